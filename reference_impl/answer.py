"""The unit every pattern passes around: one complete answer to one request.

A streamed answer is stored as the equivalent non-streaming ``chat.completion`` body, so the
cache and the coalescing of in-flight requests handle one shape. ``to_bytes`` is a compact
form for Redis: one JSON header line, a newline, then the body bytes untouched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final


OK: Final = int(HTTPStatus.OK)
"""200 as a plain int: an ``HTTPStatus`` member costs a descriptor call on each use."""
COMPACT_JSON: Final = json.JSONEncoder(separators=(",", ":"))
"""``json.dumps(..., separators=(",", ":"))`` without building an encoder on each call."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A status, a complete JSON body, and what the client needs to know about it."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    model: str = ""
    degraded: bool = False

    @property
    def cacheable(self) -> bool:
        """Only a full-quality success may be served to later requests."""
        return self.status == OK and not self.degraded

    def to_bytes(self) -> bytes:
        """A header line of JSON, ``\\n``, the body; ``from_bytes`` restores it exactly."""
        header = {"s": self.status, "h": dict(self.headers), "m": self.model, "d": self.degraded}
        return COMPACT_JSON.encode(header).encode() + b"\n" + self.body

    @classmethod
    def from_bytes(cls, raw: bytes) -> Answer:
        """The ``Answer`` that ``to_bytes`` wrote, or ``ValueError`` for anything else."""
        line, newline, body = raw.partition(b"\n")
        if not newline:
            raise ValueError("not a serialised Answer: no header line")
        try:
            header = json.loads(line)
            status, headers, model, degraded = header["s"], header["h"], header["m"], header["d"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"not a serialised Answer: {exc}") from exc
        shapes = ((status, int), (headers, dict), (model, str), (degraded, bool))
        if not all(isinstance(value, kind) for value, kind in shapes):
            raise ValueError(f"not a serialised Answer: unexpected header {header!r}")
        return cls(status=status, body=body, headers=headers, model=model, degraded=degraded)
