"""``slicer``: data arrives in small pieces, with a pause between them."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from .toxic import ToxicFault


class SlicerFault(ToxicFault):
    """Cut data into pieces of about ``average_size_bytes`` (plus or minus
    ``size_variation_bytes``), each sent ``delay_us`` microseconds after the previous one."""

    kind: Literal["slicer"] = "slicer"
    average_size_bytes: int = Field(gt=0)
    size_variation_bytes: int = Field(default=0, ge=0)
    delay_us: int = Field(default=0, ge=0)

    toxic_type: ClassVar[str] = "slicer"

    @field_validator("size_variation_bytes")
    @classmethod
    def _variation_below_average(cls, variation: int, info: ValidationInfo) -> int:
        average = info.data.get("average_size_bytes")
        if average is not None and variation >= average:
            raise ValueError(f"must be smaller than average_size_bytes ({average})")
        return variation

    def attributes(self) -> dict[str, int]:
        """Toxiproxy's ``average_size``, ``size_variation`` (bytes) and ``delay`` (us)."""
        return {
            "average_size": self.average_size_bytes,
            "size_variation": self.size_variation_bytes,
            "delay": self.delay_us,
        }
