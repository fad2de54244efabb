"""Perturbations on a timeline: Toxiproxy toxics, provider faults, process faults, flag flips.

Each fault type is a frozen pydantic model in a module of its own (``faults.link``,
``faults.provider``, ``faults.process``, ``faults.gateway`` for the gateway's flags file),
listed by hand in ``FAULT_TYPES``; importing the package registers nothing and starts
nothing. A fault injects and heals itself against a ``FaultContext`` (the target's Toxiproxy,
provider control API and server processes) or, for a flag flip, the file it names.
``FaultEvent`` places a fault on the load's timeline (at, for, every, ramp) and
``run_timeline`` plays the events beside the load, records each activation in a
``FaultRecord`` and heals everything, whatever happens.

    events = [FaultEvent(fault=LatencyFault(link="provider", latency_ms=200), at_s=10, for_s=5)]
    records = await run_timeline(events, FaultContext.of_stack(stack),
                                 time_zero=load_start, duration_s=60)

Errors, a closed set (invalid parameters raise pydantic's ``ValidationError`` at the edge):

    FaultError
    ├── MissingComponentError   the fault needs Toxiproxy, the provider or a process the
    │                           target lacks ("fault 'freeze' needs the stack's redis process")
    ├── FaultActionError        injecting or healing failed: a control API refused or was
    │                           unreachable, a process did not start again in time
    └── FaultCleanupError       the timeline's final clean-up failed (carries the records)

Inside ``run_timeline`` the first two do not stop the run: they land in the record's ``error``.
"""

from stack.process import ProcessControl

from .context import FaultContext
from .errors import FaultActionError, FaultCleanupError, FaultError, MissingComponentError
from .event import FaultEvent
from .gateway.flag import FlagFault
from .link.bandwidth import BandwidthFault
from .link.latency import LatencyFault
from .link.limit_data import LimitDataFault
from .link.link_down import LinkDownFault
from .link.reset_peer import ResetPeerFault
from .link.slicer import SlicerFault
from .link.slow_close import SlowCloseFault
from .link.timeout import TimeoutFault
from .model import Fault, FaultModel
from .process.freeze import FreezeFault
from .process.kill_restart import KillRestartFault
from .provider.brownout import BrownoutFault
from .provider.provider_errors import ProviderErrorsFault
from .provider.stream_stall import StreamStallFault
from .provider.stream_truncation import StreamTruncationFault
from .record import FaultRecord, FaultWindow
from .registry import FAULT_TYPES, RAMPABLE_KINDS, FaultSpec
from .timeline import run_timeline


__all__ = [
    "FAULT_TYPES",
    "RAMPABLE_KINDS",
    "BandwidthFault",
    "BrownoutFault",
    "Fault",
    "FaultActionError",
    "FaultCleanupError",
    "FaultContext",
    "FaultError",
    "FaultEvent",
    "FaultModel",
    "FaultRecord",
    "FaultSpec",
    "FaultWindow",
    "FlagFault",
    "FreezeFault",
    "KillRestartFault",
    "LatencyFault",
    "LimitDataFault",
    "LinkDownFault",
    "MissingComponentError",
    "ProcessControl",
    "ProviderErrorsFault",
    "ResetPeerFault",
    "SlicerFault",
    "SlowCloseFault",
    "StreamStallFault",
    "StreamTruncationFault",
    "TimeoutFault",
    "run_timeline",
]
