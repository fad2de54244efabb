"""One request as measured (``Op``), and the columnar table that holds a run's Ops.

A run of 10^6 requests must not cost 10^6 Python objects while it is measured, so the engine
writes each request's figures into preallocated numpy columns (``OpColumns``), one row per
scheduled request. ``Op`` is the readable, frozen view of one row, for checks and tests.

Times are seconds from the run's start on one monotonic clock: ``intended_s`` is when the
schedule said to send, ``sent_s`` when the generator actually began the request,
``first_byte_s`` when the response headers arrived, ``end_s`` when the body was read (or the
request was given up). Latency is measured from ``intended_s`` (no coordinated omission);
``sent_s - intended_s`` is the generator's schedule lag.

A request sent with a W3C ``traceparent`` keeps its trace id (128 bits, in ``trace_hi`` and
``trace_lo``; zero when none was sent, which no valid trace id is), so that a report can find
the spans the target made for it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .schedule import Schedule


class Outcome(enum.IntEnum):
    """Whether a request succeeded; ``INFO`` means unknown (e.g. the client gave up waiting)."""

    PENDING = 0
    OK = 1
    FAIL = 2
    INFO = 3


class ErrorKind(enum.IntEnum):
    """Why a request did not succeed; ``HTTP`` errors carry their status code."""

    NONE = 0
    HTTP = 1
    TIMEOUT = 2
    CONNECT = 3
    DISCONNECT = 4
    PROTOCOL = 5
    CLIENT = 6
    """The generator's own machine failed the request (out of file descriptors, ports)."""
    INTERNAL = 7
    """A bug in the generator; the request's fate is unknown."""

    @property
    def blames_generator(self) -> bool:
        """The generator, not the target, failed this request."""
        return self in {ErrorKind.CLIENT, ErrorKind.INTERNAL}


class CacheStatus(enum.IntEnum):
    """The gateway's ``x-cache`` header; ``NONE`` when it sent none."""

    NONE = 0
    HIT = 1
    MISS = 2
    COALESCED = 3


OP_DTYPE = np.dtype(
    [
        ("row", np.int64),
        ("tenant", np.uint16),
        ("endpoint", np.uint8),
        ("prompt", np.int32),
        ("click", np.int32),
        ("part", np.uint8),
        ("intended_s", np.float64),
        ("sent_s", np.float64),
        ("first_byte_s", np.float64),
        ("end_s", np.float64),
        ("status", np.int16),
        ("outcome", np.uint8),
        ("error", np.uint8),
        ("model", np.int16),
        ("prompt_tokens", np.int32),
        ("completion_tokens", np.int32),
        ("cache", np.uint8),
        ("degraded", np.bool_),
        ("budget_warning", np.bool_),
        ("ttft_s", np.float64),
        ("tpot_s", np.float64),
        ("itl_max_s", np.float64),
        ("trace_hi", np.uint64),
        ("trace_lo", np.uint64),
    ]
)
"""One row per request. Times missing for a request are NaN; ``model`` is -1 when unknown."""

OPTIONAL_COLUMNS = ("trace_hi", "trace_lo")
"""Columns a history written before they existed lacks; they read as zeros (no trace)."""

OpArray = npt.NDArray[np.void]


SCHEDULE_COLUMNS = ("row", "tenant", "endpoint", "prompt", "click", "part", "intended_s")
"""The columns a schedule fills in before the run; every other column is measured."""


def empty_ops(count: int) -> OpArray:
    """``count`` pending rows: times NaN, model -1, everything else zero."""
    ops = np.zeros(count, dtype=OP_DTYPE)
    for name in ("sent_s", "first_byte_s", "end_s", "ttft_s", "tpot_s", "itl_max_s"):
        ops[name] = np.nan
    ops["model"] = -1
    return ops


def ops_for(schedule: Schedule) -> OpArray:
    """Pending rows for every request of ``schedule``, its columns filled in."""
    ops = empty_ops(len(schedule))
    for name in SCHEDULE_COLUMNS:
        ops[name] = getattr(schedule, name)
    return ops


def trace_id_of(high: int, low: int) -> str | None:
    """The trace id in hex from its two halves; None for zero (no trace)."""
    if not high and not low:
        return None
    return f"{high:016x}{low:016x}"


@dataclass(frozen=True, slots=True)
class Op:
    """One request as measured; names resolved, times in seconds from the run's start."""

    row: int
    tenant: str
    endpoint: str
    prompt: int
    click: int
    part: int
    intended_s: float
    sent_s: float
    first_byte_s: float
    end_s: float
    status: int
    outcome: Outcome
    error: ErrorKind
    model: str | None
    prompt_tokens: int
    completion_tokens: int
    cache: CacheStatus
    degraded: bool
    budget_warning: bool
    ttft_s: float
    tpot_s: float
    itl_max_s: float
    trace_id: str | None = None
    """The W3C trace id (32 hex digits) the request was sent with, if any."""

    @property
    def latency_s(self) -> float:
        """From the intended send time to the end: what a user waited."""
        return self.end_s - self.intended_s

    @property
    def uncorrected_latency_s(self) -> float:
        """From the actual send to the end: what a closed-loop tool would report."""
        return self.end_s - self.sent_s

    @property
    def lag_s(self) -> float:
        """How late the generator sent this request."""
        return self.sent_s - self.intended_s


@dataclass(frozen=True, eq=False)
class OpTable:
    """A run's Ops as columns, with the name tables that their integer codes index."""

    ops: OpArray
    tenants: tuple[str, ...]
    endpoints: tuple[str, ...]
    models: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Op]:
        return (self.op(i) for i in range(len(self.ops)))

    def op(self, index: int) -> Op:
        """The Op in row ``index``."""
        r = self.ops[index]
        model = int(r["model"])
        return Op(
            row=int(r["row"]),
            tenant=self.tenants[int(r["tenant"])],
            endpoint=self.endpoints[int(r["endpoint"])],
            prompt=int(r["prompt"]),
            click=int(r["click"]),
            part=int(r["part"]),
            intended_s=float(r["intended_s"]),
            sent_s=float(r["sent_s"]),
            first_byte_s=float(r["first_byte_s"]),
            end_s=float(r["end_s"]),
            status=int(r["status"]),
            outcome=Outcome(int(r["outcome"])),
            error=ErrorKind(int(r["error"])),
            model=self.models[model] if model >= 0 else None,
            prompt_tokens=int(r["prompt_tokens"]),
            completion_tokens=int(r["completion_tokens"]),
            cache=CacheStatus(int(r["cache"])),
            degraded=bool(r["degraded"]),
            budget_warning=bool(r["budget_warning"]),
            ttft_s=float(r["ttft_s"]),
            tpot_s=float(r["tpot_s"]),
            itl_max_s=float(r["itl_max_s"]),
            trace_id=trace_id_of(int(r["trace_hi"]), int(r["trace_lo"])),
        )

    @property
    def latency_s(self) -> npt.NDArray[np.float64]:
        """Latency from the intended send time, per row (NaN while pending)."""
        return np.asarray(self.ops["end_s"] - self.ops["intended_s"], dtype=np.float64)

    @classmethod
    def merge(cls, parts: Sequence[OpTable]) -> OpTable:
        """Several processes' tables as one, sorted by row; model codes are renumbered."""
        if not parts:
            raise ValueError("merge needs at least one table")
        first = parts[0]
        models: list[str] = []
        chunks: list[OpArray] = []
        for part in parts:
            if (part.tenants, part.endpoints) != (first.tenants, first.endpoints):
                raise ValueError("tables of different schedules cannot be merged")
            chunk = part.ops.copy()
            codes = chunk["model"]
            for old, name in enumerate(part.models):
                if name not in models:
                    models.append(name)
                codes[part.ops["model"] == old] = models.index(name)
            chunks.append(chunk)
        merged = np.concatenate(chunks)
        merged.sort(order="row", kind="stable")
        return cls(merged, first.tenants, first.endpoints, tuple(models))
