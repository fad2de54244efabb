"""What the scenario runner stores beside a run's load history: one versioned record.

``RunRecord`` is written by the runner (``to_dict``, under ``RUN_KEY`` in the history's
``run.json``) and read back by ``stored_run.read_run`` (``from_dict``); its fields are
described in ``stored_run``. Version 1 is a record from before the version was written (it
reads the same, with no backend or images); a record of a later version than this meltproof
knows is refused, naming both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from faults import FaultWindow

from .traces import RunTraces


RUN_KEY = "scenario_run"
RUN_RECORD_VERSION = 2
"""1: no ``version`` field; 2: ``version``, ``backend`` and ``images``."""


class RunRecordError(ValueError):
    """A record this meltproof cannot read."""


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """The scenario as run, its fault log, the provider's ground truth and the testbed."""

    scenario: Mapping[str, Any]
    faults: tuple[FaultWindow, ...] = ()
    provider: Mapping[str, Any] | None = None
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    steady_state: Mapping[str, Any] = field(default_factory=dict)
    gateway: Mapping[str, Any] | None = None
    target: Mapping[str, Any] | None = None
    """A target other than our gateway: its kind, name, version, files (None: ours)."""
    target_cpu_s: float | None = None
    services: Mapping[str, str] = field(default_factory=dict)
    backend: str | None = None
    """Where the stack's servers ran; None without a stack of meltproof's."""
    images: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Service -> the image its container ran (the container backend)."""
    harness: Mapping[str, Any] = field(default_factory=dict)
    traces: RunTraces | None = None
    """The slowest requests' spans of a traced run (None: the run was not traced)."""

    def to_dict(self) -> dict[str, Any]:
        """The plain JSON form, with its version."""
        return {
            "version": RUN_RECORD_VERSION,
            "scenario": dict(self.scenario),
            "faults": [window.to_dict() for window in self.faults],
            "provider": self.provider,
            "prices": {name: dict(price) for name, price in self.prices.items()},
            "steady_state": dict(self.steady_state),
            "gateway": self.gateway,
            "target": self.target,
            "target_cpu_s": self.target_cpu_s,
            "services": dict(self.services),
            "backend": self.backend,
            "images": {name: dict(image) for name, image in self.images.items()},
            "harness": dict(self.harness),
            "traces": None if self.traces is None else self.traces.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """The record of a ``to_dict`` form, of this version or an older one."""
        version = data.get("version", 1)
        if not isinstance(version, int) or not 1 <= version <= RUN_RECORD_VERSION:
            raise RunRecordError(
                f"a run record of version {version!r}; this meltproof reads versions 1 to "
                f"{RUN_RECORD_VERSION} (a newer meltproof wrote it?)"
            )
        services = data.get("services") or {}
        return cls(
            scenario=data.get("scenario") or {},
            faults=tuple(FaultWindow.from_dict(f) for f in data.get("faults") or ()),
            provider=data.get("provider"),
            prices=data.get("prices") or {},
            steady_state=data.get("steady_state") or {},
            gateway=data.get("gateway"),
            target=data.get("target"),
            target_cpu_s=data.get("target_cpu_s"),
            services=services,
            backend=data.get("backend", "embedded" if services else None),
            images=data.get("images") or {},
            harness=data.get("harness") or {},
            traces=RunTraces.from_dict(data["traces"]) if data.get("traces") else None,
        )
