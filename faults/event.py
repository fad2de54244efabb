"""``FaultEvent``: one fault placed on the timeline of a load, possibly repeated or ramped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .registry import RAMPABLE_KINDS, FaultSpec


class FaultEvent(BaseModel):
    """When a fault acts, in seconds from the load's time zero.

    - ``at_s``: the first injection;
    - ``for_s``: how long each activation lasts (None: until the load ends);
    - ``every_s``: repeat, injecting at ``at_s``, ``at_s + every_s``, ... while before the end
      of the load (needs ``for_s < every_s``);
    - ``ramp_steps``: the intensity climbs linearly in that many equal steps across each
      ``for_s`` window (the last step reaches the fault's full value); only kinds that declare
      a ramped parameter can ramp.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1)
    """The name in the fault log; the kind when not given."""
    fault: FaultSpec
    at_s: float = Field(ge=0.0, allow_inf_nan=False)
    for_s: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    every_s: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    ramp_steps: int | None = Field(default=None, ge=2)

    @model_validator(mode="before")
    @classmethod
    def _name_defaults_to_kind(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or data.get("name") is not None:
            return data
        fault = data.get("fault")
        kind = fault.get("kind") if isinstance(fault, Mapping) else getattr(fault, "kind", None)
        return {**data, "name": kind} if isinstance(kind, str) else data

    @field_validator("every_s")
    @classmethod
    def _repeat_needs_a_shorter_window(
        cls, every_s: float | None, info: ValidationInfo
    ) -> float | None:
        if every_s is None:
            return every_s
        for_s = info.data.get("for_s")
        if for_s is None:
            raise ValueError("a repeated fault needs for_s (each activation's length)")
        if for_s >= every_s:
            raise ValueError(f"must be longer than for_s ({for_s} s)")
        return every_s

    @field_validator("ramp_steps")
    @classmethod
    def _ramp_needs_a_rampable_kind(cls, steps: int | None, info: ValidationInfo) -> int | None:
        if steps is None:
            return steps
        fault = info.data.get("fault")
        if fault is not None and fault.ramp_field is None:
            can = ", ".join(RAMPABLE_KINDS)
            raise ValueError(f"fault kind {fault.kind!r} cannot ramp (kinds that can: {can})")
        if info.data.get("for_s") is None:
            raise ValueError("a ramp needs for_s (the window the intensity climbs across)")
        return steps

    @property
    def label(self) -> str:
        """The event's name (the kind when none was given)."""
        return self.name or self.fault.kind
