"""FaultContext: what a stack offers faults; servers the stack did not start are left out."""

import pytest

from faults import FaultContext, FreezeFault, LatencyFault, MissingComponentError
from stack.process import ProcessControlError
from stack.redis_server import ExistingRedis
from stack.stack import Endpoints, Stack
from stack.toxiproxy import ToxiproxyClient


def test_an_existing_server_is_never_a_process_fault_target(tmp_path):
    stack = Stack(tmp_path, ToxiproxyClient("http://127.0.0.1:9"))
    stack.launch(ExistingRedis("redis://127.0.0.1:6399/0"))  # launching it starts nothing
    assert not stack.controls("redis")
    assert not stack.controls("postgres")
    with pytest.raises(ProcessControlError, match="existing server"):
        stack.process_control("redis")
    with pytest.raises(ProcessControlError, match="no postgres process"):
        stack.process_control("postgres")
    stack.record(Endpoints(*(f"http://127.0.0.1:{port}" for port in range(9, 17))))
    ctx = FaultContext.of_stack(stack)
    assert ctx.processes == {}
    assert ctx.toxiproxy is stack.toxiproxy
    assert ctx.provider.base_url == "http://127.0.0.1:9"


def test_a_missing_component_is_named_with_the_fault():
    with pytest.raises(MissingComponentError) as info:
        FreezeFault(service="redis").inject(FaultContext())
    assert str(info.value) == (
        "fault 'freeze' needs the stack's redis process; the target has none"
    )
    with pytest.raises(MissingComponentError, match="'latency' needs Toxiproxy"):
        LatencyFault(link="redis", latency_ms=5).heal(FaultContext())
