"""The shape every fault type shares: the ``Fault`` protocol and the ``FaultModel`` base.

A fault type is a frozen pydantic model: a ``kind`` literal, parameters with their units in
their names, ``inject`` and ``heal`` (quick and synchronous: an HTTP call or a signal), and:

- ``target``: the link, model or service it acts on, for the fault log;
- ``slot``: the piece of shared state it writes (one toxic name on one link, one provider fault
  slot, one process). Faults with the same slot do not stack: the later replaces the earlier,
  and when it heals the timeline injects the earlier one again if that is still active;
- ``ramp_field`` / ``ramp_from``: the numeric parameter that climbs when the fault ramps, from
  which value (None: the kind cannot ramp).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Protocol, Self

from pydantic import BaseModel, ConfigDict

from .context import FaultContext


class Fault(Protocol):
    """A perturbation that can be injected and healed."""

    @property
    def kind(self) -> str:
        """The fault type's name in scenarios and logs."""

    @property
    @abstractmethod
    def target(self) -> str | None:
        """The link, model or service the fault acts on."""

    def inject(self, ctx: FaultContext) -> None:
        """Start the perturbation."""

    def heal(self, ctx: FaultContext) -> None:
        """End it; safe when it is not (or no longer) injected."""


class FaultModel(BaseModel):
    """Base of the fault types (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    ramp_field: ClassVar[str | None] = None
    ramp_from: ClassVar[float] = 0.0

    @property
    @abstractmethod
    def target(self) -> str | None:
        """The link, model or service the fault acts on."""

    @property
    @abstractmethod
    def slot(self) -> tuple[str, ...]:
        """The shared state the fault writes; same slot, the later fault replaces the earlier."""

    @abstractmethod
    def inject(self, ctx: FaultContext) -> None:
        """Start the perturbation."""

    @abstractmethod
    def heal(self, ctx: FaultContext) -> None:
        """End the perturbation; safe when it is not (or no longer) injected."""

    def at_intensity(self, fraction: float) -> Self:
        """This fault with its ramped parameter at ``fraction`` of the way from ``ramp_from``.

        A mapping (error rates by status) has each of its values moved; ints stay ints.
        """
        field = self.ramp_field
        if field is None or fraction >= 1.0:
            return self
        full = getattr(self, field)
        if isinstance(full, dict):
            value: Any = {key: self._toward(rate, fraction) for key, rate in full.items()}
        else:
            value = self._toward(full, fraction)
        return self.model_copy(update={field: value})

    def params(self) -> dict[str, Any]:
        """The parameters as plain JSON, for the fault log."""
        return self.model_dump(mode="json", exclude={"kind"})

    def _toward(self, full: float, fraction: float) -> float:
        value = self.ramp_from + (full - self.ramp_from) * fraction
        return round(value) if isinstance(full, int) else value
