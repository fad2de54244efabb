"""Every fault type by kind, written out: no registration at import time.

``FaultSpec`` is the discriminated union of the fault models, for embedding in a schema
(``kind`` picks the model). Not to be confused with ``stack.provider.faults.FaultSpec``,
the simulated provider's own fault description that the provider faults send it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated

from pydantic import Field

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
    | KillRestartFault,
    Field(discriminator="kind"),
]
"""One fault of any type, chosen by its ``kind``."""

FAULT_TYPES: Mapping[str, type[FaultModel]] = MappingProxyType(
    {
        "latency": LatencyFault,
        "bandwidth": BandwidthFault,
        "slow_close": SlowCloseFault,
        "timeout": TimeoutFault,
        "reset_peer": ResetPeerFault,
        "slicer": SlicerFault,
        "limit_data": LimitDataFault,
        "link_down": LinkDownFault,
        "provider_errors": ProviderErrorsFault,
        "brownout": BrownoutFault,
        "stream_stall": StreamStallFault,
        "stream_truncation": StreamTruncationFault,
        "freeze": FreezeFault,
        "kill_restart": KillRestartFault,
    }
)
"""Kind -> fault model."""

RAMPABLE_KINDS = tuple(kind for kind, model in FAULT_TYPES.items() if model.ramp_field)
"""The kinds whose intensity can ramp."""
