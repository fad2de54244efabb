"""Read the gateway's access log (``--access-log``) into a ``ReplayTrace``.

Each request is a JSON object (see ``reference_impl.exchange``): ``ts``, ``tenant``,
``fingerprint``, ``model``, ``endpoint``, ``stream``, ``prompt_version``, ``max_tokens``,
``temperature``, ``prompt_tokens``, ``output_tokens``, ``internal``. A line is one such
object, or a line of the gateway's stderr whose logger is ``reference_impl.access`` (the
object follows the logger's name); other lines of the gateway's log are skipped, and so are
``internal`` calls (the copilot's), which the replayed clicks' gateway would make itself.

A fingerprint stands for a prompt: requests with the same one get the same synthetic prompt.
The ``max_tokens`` sent is the largest ``output_tokens`` recorded for that request (so the
answers are about as long as they were), else the recorded ``max_tokens``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .replay_trace import NO_MAX_TOKENS, ReplayTrace, TraceBuilder, TraceError


LOGGER_MARK = " reference_impl.access "
ENDPOINTS = {
    ("chat", False): "chat",
    ("chat", True): "chat_stream",
    ("embeddings", False): "embeddings",
}


def read_access_log(path: Path) -> ReplayTrace:
    """The requests of the access log ``path``; a malformed line is a ``TraceError``."""
    source = str(path)
    rows: list[dict[str, Any]] = []
    skipped = 0
    for number, record in _records(path):
        if record is None:
            skipped += 1
            continue
        if _field(source, number, record, "internal", bool, optional=True):
            skipped += 1
            continue
        rows.append(_row(source, number, record))
    longest: dict[tuple[object, ...], int] = {}
    for row in rows:
        if row["output_tokens"] is not None:
            identity = row["identity"]
            longest[identity] = max(longest.get(identity, 0), row["output_tokens"])
    builder = TraceBuilder(source, skipped=skipped)
    for row in rows:
        identity, recorded = row.pop("identity"), row.pop("max_tokens")
        del row["output_tokens"]
        max_tokens = longest.get(identity) or recorded or NO_MAX_TOKENS
        builder.add(identity=identity, prompt=None, max_tokens=max_tokens, **row)
    return builder.build(keep_prompts=False)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, the line's object, or None for a line of another logger)."""
    source = str(path)
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                text = line.strip()
                if LOGGER_MARK in text:
                    text = text.partition(LOGGER_MARK)[2]
                elif not text.startswith("{"):
                    yield number, None
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise TraceError(source, number, f"not a JSON object: {exc.msg}") from None
                if not isinstance(record, dict):
                    raise TraceError(source, number, "not a JSON object")
                yield number, record
    except OSError as exc:
        raise TraceError(source, None, f"cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TraceError(source, None, "not UTF-8 text") from None


def _row(source: str, number: int, record: Mapping[str, Any]) -> dict[str, Any]:
    def get(name: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
        return _field(source, number, record, name, kind, optional=optional)

    route = get("endpoint", str)
    stream = bool(get("stream", bool, optional=True))
    endpoint = ENDPOINTS.get((route, stream))
    if endpoint is None:
        raise TraceError(
            source,
            number,
            f"field 'endpoint': {route!r} (stream {stream}) cannot be replayed;"
            " replayable: chat, embeddings",
        )
    tenant, fingerprint, model = get("tenant", str), get("fingerprint", str), get("model", str)
    version = get("prompt_version", str, optional=True) or "default"
    max_tokens = _count(source, number, record, "max_tokens")
    temperature = get("temperature", (int, float), optional=True)
    identity = (tenant, route, fingerprint, model, version, max_tokens, temperature)
    return {
        "at_s": _timestamp(source, number, record),
        "tenant": tenant,
        "endpoint": endpoint,
        "identity": identity,
        "prompt_tokens": _count(source, number, record, "prompt_tokens") or 0,
        "output_tokens": _count(source, number, record, "output_tokens"),
        "max_tokens": max_tokens,
        "temperature": None if temperature is None else float(temperature),
        "model": model,
        "prompt_version": version,
    }


def _field(
    source: str,
    number: int,
    record: Mapping[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    *,
    optional: bool = False,
) -> Any:
    """``record[name]`` of type ``kind``; absent or null is None when ``optional``."""
    value = record.get(name)
    if value is None:
        if optional:
            return None
        raise TraceError(source, number, f"field {name!r} is missing")
    bad_bool = isinstance(value, bool) and bool not in (
        kind if isinstance(kind, tuple) else (kind,)
    )
    if bad_bool or not isinstance(value, kind) or (isinstance(value, str) and not value):
        raise TraceError(source, number, f"field {name!r} must be {_kind(kind)}, got {value!r}")
    return value


def _count(source: str, number: int, record: Mapping[str, Any], name: str) -> int | None:
    value = _field(source, number, record, name, int, optional=True)
    if value is not None and value < 0:
        raise TraceError(source, number, f"field {name!r} must be >= 0, got {value}")
    return value  # type: ignore[no-any-return]


def _timestamp(source: str, number: int, record: Mapping[str, Any]) -> float:
    value = float(_field(source, number, record, "ts", (int, float)))
    if not math.isfinite(value):
        raise TraceError(source, number, f"field 'ts' must be finite Unix seconds, got {value}")
    return value


def _kind(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds:
        return "a number"
    names = {str: "a non-empty string", bool: "true or false", int: "an integer"}
    return " or ".join(names[k] for k in kinds)
