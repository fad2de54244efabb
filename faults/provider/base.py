"""The base of the provider faults: one fault spec per model slot on the simulated provider.

The provider holds ONE fault spec per model, plus a default spec for every model without its
own (``stack.provider.faults.FaultState``). A provider fault writes the slot of its ``model``
(None: the default slot), so:

- two provider faults on the same slot do not add up: the later replaces the earlier (an error
  burst during a brownout of the same model ends the brownout while it lasts); when the later
  heals, the timeline injects the earlier one again if it is still active;
- a fault on a model hides, for that model, a fault on the default slot.

Healing clears the fault's own slot only: a model's spec is removed; the default slot is set
to an empty spec, which injects nothing, so that the other models' faults stay in place.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from pydantic import Field

from ..context import FaultContext
from ..errors import acting
from ..model import FaultModel


class ProviderFault(FaultModel):
    """A fault spec for one model of the simulated provider, or for every model."""

    model: str | None = Field(default=None, min_length=1)
    """The model the fault hits; None: every model without a fault of its own."""

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """The provider's fault spec (``stack.provider.faults.FaultSettings``) as JSON."""

    @property
    def target(self) -> str | None:
        """The model, or None for every model."""
        return self.model

    @property
    def slot(self) -> tuple[str, ...]:
        """The provider's fault slot of the model (or the default slot)."""
        return ("provider", self.model or "")

    def inject(self, ctx: FaultContext) -> None:
        """Set the fault spec of the slot."""
        provider = ctx.need_provider(self.kind)
        with acting(self.kind, "injecting"):
            provider.set_fault(self.spec(), model=self.model)

    def heal(self, ctx: FaultContext) -> None:
        """Clear the slot (see the module docstring)."""
        provider = ctx.need_provider(self.kind)
        with acting(self.kind, "healing"):
            if self.model is None:
                provider.set_fault({})
            else:
                provider.clear_faults(model=self.model)
