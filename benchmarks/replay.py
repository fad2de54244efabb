"""A workload replayed from a file: the gateway's access log or OpenAI batch-API input.

``read_trace`` tells the two apart by the first request line (a batch line has ``url`` and
``body``). An access log keeps its times, scaled by ``speed``: the schedule sends the request
recorded at ``t`` at ``t / speed`` from the run's start (a run shorter than the trace replays
its beginning). A batch file has no times; its lines go out in file order on the arrivals
the workload is given.

Each distinct request of the trace is one body: recorded prompts as they are, or (from an
access log) a synthetic prompt of about the recorded prompt tokens, made of the workload's
seed and the request's number, so that a run on another seed shares no cache entry with it.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .endpoints import RequestSpec
from .replay_access_log import LOGGER_MARK, read_access_log
from .replay_batch import read_batch
from .replay_trace import NO_MAX_TOKENS, ReplayTrace, TraceError
from .schedule import Schedule
from .token_lengths import CHAT_OVERHEAD_TOKENS, padded


def read_trace(path: Path) -> ReplayTrace:
    """The requests of an access log or a batch input file; ``TraceError`` if malformed.

    The last few files read are kept while they are unchanged (a scenario's file is read
    when it is validated and again when it runs)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise TraceError(str(path), None, f"cannot read the file: {exc.strerror}") from None
    return _read(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read(path: Path, _mtime_ns: int, _size: int) -> ReplayTrace:
    return read_batch(path) if _is_batch(path) else read_access_log(path)


def _is_batch(path: Path) -> bool:
    """Whether the first line that is a JSON object is a batch request (``url`` and ``body``)."""
    try:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                text = line.strip()
                if text.startswith("{") and LOGGER_MARK not in text:
                    try:
                        record = json.loads(text)
                    except json.JSONDecodeError:
                        return False
                    return isinstance(record, dict) and "body" in record and "url" in record
    except OSError as exc:
        raise TraceError(str(path), None, f"cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TraceError(str(path), None, "not UTF-8 text") from None
    return False


@dataclass
class _Loaded:
    """What a ``Replay`` read from its file, kept for the run."""

    trace: ReplayTrace | None = None
    prompt_tokens: list[int] | None = None
    """Per request, the fewest prompt tokens recorded for it."""


@dataclass(frozen=True)
class Replay:
    """The trace in the file ``source``, replayed at ``speed`` times its recorded pace.

    The file is read on first use and kept (and pickled with the workload to generator
    processes), so a stored run names its file without holding it.
    """

    source: str
    speed: float = 1.0
    _loaded: _Loaded = field(default_factory=_Loaded, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.source, str) and self.source):
            raise ValueError(f"source must be a file name, got {self.source!r}")
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise ValueError(f"speed must be finite and > 0, got {self.speed!r}")

    def trace(self) -> ReplayTrace:
        """The file's requests, read once."""
        if self._loaded.trace is None:
            self._loaded.trace = read_trace(Path(self.source))
        return self._loaded.trace

    @property
    def timed(self) -> bool:
        """Whether the file has its own arrival times (an access log)."""
        return self.trace().at_s is not None

    def duration_s(self) -> float:
        """How long replaying the whole timed trace takes: its span and one mean gap between
        arrivals more, as if the next arrival were due then, so that the last request has
        the same room to be sent on time as any other (1 s for a single request)."""
        trace = self.trace()
        requests = len(trace)
        gap_s = trace.span_s / (requests - 1) if requests > 1 and trace.span_s > 0 else 1.0
        return (trace.span_s + gap_s) / self.speed

    def schedule(self, duration_s: float, times: npt.NDArray[np.float64] | None) -> Schedule:
        """The requests due within ``duration_s``: at their recorded times, else at ``times``."""
        trace = self.trace()
        if trace.at_s is not None:
            intended = trace.at_s / self.speed
        elif times is None:
            raise ValueError(f"{self.source} has no arrival times: give the replay arrivals")
        else:
            intended = times[: len(trace)]
        n = int(np.searchsorted(intended, duration_s, side="left"))
        return Schedule(
            intended_s=np.ascontiguousarray(intended[:n], dtype=np.float64),
            tenant=trace.tenant[:n].copy(),
            endpoint=trace.endpoint[:n].copy(),
            prompt=trace.request[:n].copy(),
            click=np.arange(n, dtype=np.int32),
            part=np.zeros(n, dtype=np.uint8),
            row=np.arange(n, dtype=np.int64),
            tenants=trace.tenants,
            endpoints=trace.endpoints,
            duration_s=float(duration_s),
        )

    def request_spec(self, row: int, *, api_key: str | None, seed: int) -> RequestSpec:
        """What to send for row ``row`` of the trace."""
        trace = self.trace()
        request = int(trace.request[row])
        max_tokens = int(trace.max_tokens[row])
        temperature = float(trace.temperature[row])
        version = trace.prompt_versions[int(trace.prompt_version[row])]
        recorded = None if trace.prompts is None else trace.prompts[request]
        prompt = ""
        if recorded is None:
            chat = trace.endpoints[int(trace.endpoint[row])] != "embeddings"
            overhead = CHAT_OVERHEAD_TOKENS if chat else 0
            tokens = self._prompt_tokens()[request] - overhead
            prompt = padded(f"Replayed request {seed}-{request}.", tokens)
        return RequestSpec(
            tenant=trace.tenants[int(trace.tenant[row])],
            api_key=api_key,
            prompt=prompt,
            model=trace.models[int(trace.model[row])],
            max_tokens=None if max_tokens == NO_MAX_TOKENS else max_tokens,
            temperature=None if math.isnan(temperature) else temperature,
            prompt_version=None if version == "default" else version,
            content=recorded,
            embedding_model=trace.models[int(trace.model[row])],
        )

    def _prompt_tokens(self) -> list[int]:
        """Per request, the fewest prompt tokens recorded for it (usage counts are exact, a
        failed request's estimate is an upper bound; 0 if unknown)."""
        if self._loaded.prompt_tokens is None:
            trace = self.trace()
            unknown = np.iinfo(np.int64).max
            tokens = np.full(int(trace.request.max()) + 1, unknown, np.int64)
            recorded = trace.prompt_tokens.astype(np.int64)
            np.minimum.at(tokens, trace.request, np.where(recorded > 0, recorded, unknown))
            tokens[tokens == unknown] = 0
            self._loaded.prompt_tokens = tokens.tolist()
        return self._loaded.prompt_tokens

    def to_dict(self) -> dict[str, object]:
        """The file and the speed; the trace stays in its file."""
        return {"source": self.source, "speed": self.speed}
