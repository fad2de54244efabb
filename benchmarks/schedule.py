"""The request schedule: one row per request, as columns, made before the run starts."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


_COLUMNS = {
    "intended_s": np.dtype(np.float64),
    "tenant": np.dtype(np.uint16),
    "endpoint": np.dtype(np.uint8),
    "prompt": np.dtype(np.int32),
    "click": np.dtype(np.int32),
    "part": np.dtype(np.uint8),
    "row": np.dtype(np.int64),
}


@dataclass(frozen=True, eq=False)
class Schedule:
    """Requests sorted by intended send time (s from the run's start).

    ``tenant`` and ``endpoint`` index into ``tenants`` and ``endpoints``; the parts of
    one click share its ``click`` number; ``row`` is the request's number in the full
    schedule, kept when the schedule is sliced between generator processes.
    ``duration_s`` is the length of the run the schedule was made for, None if unknown.
    """

    intended_s: npt.NDArray[np.float64]
    tenant: npt.NDArray[np.uint16]
    endpoint: npt.NDArray[np.uint8]
    prompt: npt.NDArray[np.int32]
    click: npt.NDArray[np.int32]
    part: npt.NDArray[np.uint8]
    row: npt.NDArray[np.int64]
    tenants: tuple[str, ...]
    endpoints: tuple[str, ...]
    duration_s: float | None = None

    def __post_init__(self) -> None:
        length = len(self.intended_s)
        for name, dtype in _COLUMNS.items():
            column = getattr(self, name)
            if not isinstance(column, np.ndarray) or column.ndim != 1:
                raise ValueError(f"{name} must be a 1-d numpy array")
            if column.dtype != dtype:
                raise ValueError(f"{name} must have dtype {dtype}, got {column.dtype}")
            if len(column) != length:
                raise ValueError(
                    f"all columns must have the same length: intended_s has {length},"
                    f" {name} has {len(column)}"
                )
        if length and np.any(np.diff(self.intended_s) < 0):
            raise ValueError("intended_s must be sorted ascending")
        if length and int(self.tenant.max()) >= len(self.tenants):
            raise ValueError(f"tenant indices must be < len(tenants) = {len(self.tenants)}")
        if length and int(self.endpoint.max()) >= len(self.endpoints):
            raise ValueError(f"endpoint indices must be < len(endpoints) = {len(self.endpoints)}")
        if self.duration_s is not None and not (
            math.isfinite(self.duration_s) and self.duration_s >= 0
        ):
            raise ValueError(f"duration_s must be finite and >= 0, got {self.duration_s!r}")

    def __len__(self) -> int:
        return len(self.intended_s)

    def fingerprint(self) -> str:
        """A digest of every row and name table: equal exactly when the schedules are."""
        digest = hashlib.sha256()
        for column in (self.row, self.intended_s, self.tenant, self.endpoint, self.prompt,
                       self.click, self.part):  # fmt: skip
            digest.update(np.ascontiguousarray(column).tobytes())
        digest.update("\0".join((*self.tenants, "", *self.endpoints)).encode())
        return digest.hexdigest()

    def slice_for(self, index: int, count: int) -> Schedule:
        """The rows with ``row % count == index``: one of ``count`` generator processes' share."""
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        if not 0 <= index < count:
            raise ValueError(f"index must be in [0, {count}), got {index}")
        keep = self.row % count == index
        return Schedule(
            intended_s=self.intended_s[keep],
            tenant=self.tenant[keep],
            endpoint=self.endpoint[keep],
            prompt=self.prompt[keep],
            click=self.click[keep],
            part=self.part[keep],
            row=self.row[keep],
            tenants=self.tenants,
            endpoints=self.endpoints,
            duration_s=self.duration_s,
        )
