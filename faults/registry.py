"""Every fault type by kind, written out in one union: no registration at import time.

``FaultSpec`` is the discriminated union of the fault models, for embedding in a schema
(``kind`` picks the model). What the provider faults send the simulated provider is its own
``stack.provider.faults.FaultSettings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, get_args

from pydantic import Field

from .gateway.flag import FlagFault
from .link.bandwidth import BandwidthFault
from .link.latency import LatencyFault
from .link.limit_data import LimitDataFault
from .link.link_down import LinkDownFault
from .link.reset_peer import ResetPeerFault
from .link.slicer import SlicerFault
from .link.slow_close import SlowCloseFault
from .link.timeout import TimeoutFault
from .model import FaultModel
from .process.freeze import FreezeFault
from .process.kill_restart import KillRestartFault
from .provider.brownout import BrownoutFault
from .provider.provider_errors import ProviderErrorsFault
from .provider.stream_stall import StreamStallFault
from .provider.stream_truncation import StreamTruncationFault


FaultSpec = Annotated[
    LatencyFault
    | BandwidthFault
    | SlowCloseFault
    | TimeoutFault
    | ResetPeerFault
    | SlicerFault
    | LimitDataFault
    | LinkDownFault
    | ProviderErrorsFault
    | BrownoutFault
    | StreamStallFault
    | StreamTruncationFault
    | FreezeFault
    | KillRestartFault
    | FlagFault,
    Field(discriminator="kind"),
]
"""One fault of any type, chosen by its ``kind``."""

FAULT_TYPES: Mapping[str, type[FaultModel]] = MappingProxyType(
    {model.model_fields["kind"].default: model for model in get_args(get_args(FaultSpec)[0])}
)
"""Kind -> fault model."""

RAMPABLE_KINDS = tuple(kind for kind, model in FAULT_TYPES.items() if model.ramp_field)
"""The kinds whose intensity can ramp."""
