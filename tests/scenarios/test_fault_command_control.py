"""The faults ``meltproof up`` holds and its fault control, against recording fakes."""

import json
import os
import stat
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from faults import (
    FaultActionError,
    FaultContext,
    FreezeFault,
    LatencyFault,
    MissingComponentError,
    ProviderErrorsFault,
)
from scenarios.active_faults import ActiveFaults, FaultConflictError, UnknownFaultError
from scenarios.cli import main
from scenarios.console import EXIT_HARNESS_ERROR
from scenarios.fault_client import FaultRefusedError, connect
from scenarios.fault_control import AddFault, ControlFile, FaultControl, answer


class FakeToxiproxy:
    def __init__(self, calls: list) -> None:
        self.calls = calls

    def add_toxic(self, proxy, toxic):
        self.calls.append(("add_toxic", proxy, toxic.name, dict(toxic.attributes)))

    def remove_toxic(self, proxy, name):
        self.calls.append(("remove_toxic", proxy, name))


class FakeProvider:
    def __init__(self, calls: list) -> None:
        self.calls = calls

    def set_fault(self, fault, *, model=None):
        self.calls.append(("set_fault", dict(fault), model))


class FakeProcess:
    def __init__(self, calls: list, name: str) -> None:
        self.calls = calls
        self.name = name
        self.fail_thaw = False

    def freeze(self):
        self.calls.append(("freeze", self.name))

    def thaw(self):
        if self.fail_thaw:
            raise OSError("no such process")
        self.calls.append(("thaw", self.name))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def calls() -> list:
    return []


@pytest.fixture
def redis_process(calls: list) -> FakeProcess:
    return FakeProcess(calls, "redis")


@pytest.fixture
def ctx(calls: list, redis_process: FakeProcess) -> FaultContext:
    return FaultContext(
        toxiproxy=FakeToxiproxy(calls),
        provider=FakeProvider(calls),
        processes={"redis": redis_process},
    )


@pytest.fixture
def events() -> list[str]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def faults(ctx: FaultContext, events: list[str], clock: Clock):
    active = ActiveFaults(ctx, on_event=events.append, clock=clock)
    yield active
    active.close()


SLOW = LatencyFault(link="provider", latency_ms=300)


def test_a_fault_is_injected_listed_with_its_age_and_healed(faults, calls, events, clock) -> None:
    added = faults.add(SLOW)
    assert added.fault.name == "latency-provider"
    assert added.fault.summary == "latency link=provider latency_ms=300"
    assert calls == [
        ("remove_toxic", "provider", "meltproof-latency-downstream"),
        ("add_toxic", "provider", "meltproof-latency-downstream", {"latency": 300, "jitter": 0}),
    ]
    clock.now += 12
    [listed] = faults.active()
    assert (listed.age_s, listed.remaining_s, listed.error) == (12, None, None)
    calls.clear()
    healed = faults.clear("latency-provider")
    assert healed.name == "latency-provider"
    assert calls == [("remove_toxic", "provider", "meltproof-latency-downstream")]
    assert faults.active() == []
    assert events == [
        "fault latency-provider injected: latency link=provider latency_ms=300",
        "fault latency-provider healed (cleared)",
    ]


def test_a_time_limit_is_counted_down_and_heals_by_itself(ctx, events, clock) -> None:
    faults = ActiveFaults(ctx, on_event=events.append, clock=clock)
    faults.add(FreezeFault(service="redis"), for_s=30)
    clock.now += 10
    assert faults.active()[0].remaining_s == 20
    faults.close()
    real = ActiveFaults(ctx, on_event=events.append)
    real.add(FreezeFault(service="redis"), name="short", for_s=0.05)
    deadline = time.monotonic() + 5
    while real.active() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert real.active() == []
    assert events[-1] == "fault short healed (its time is up)"


def test_a_fault_on_a_held_slot_replaces_it_under_its_name(faults, calls) -> None:
    faults.add(SLOW, for_s=60)
    calls.clear()
    added = faults.add(SLOW.model_copy(update={"latency_ms": 900}))
    assert added.fault.name == "latency-provider"
    assert added.replaced is not None
    assert added.replaced.params["latency_ms"] == 300
    assert [call[0] for call in calls] == ["remove_toxic", "remove_toxic", "add_toxic"]
    [active] = faults.active()
    assert (active.params["latency_ms"], active.remaining_s) == (900, None)


def test_default_names_are_numbered_and_a_taken_name_is_refused(faults, calls) -> None:
    faults.add(SLOW)
    upstream = faults.add(SLOW.model_copy(update={"stream": "upstream"}))
    assert upstream.fault.name == "latency-provider-2"
    calls.clear()
    with pytest.raises(FaultConflictError, match="fault 'latency-provider' is active"):
        faults.add(FreezeFault(service="redis"), name="latency-provider")
    assert calls == []
    with pytest.raises(UnknownFaultError, match=r"no active fault is named 'nope' \(active: "):
        faults.clear("nope")


def test_a_fault_whose_component_is_missing_is_not_recorded(events) -> None:
    faults = ActiveFaults(FaultContext(), on_event=events.append)
    with pytest.raises(MissingComponentError, match="needs the stack's postgres process"):
        faults.add(FreezeFault(service="postgres"))
    assert faults.active() == []
    assert events == []


def test_a_failed_heal_keeps_the_fault_with_its_error(faults, redis_process, events) -> None:
    faults.add(FreezeFault(service="redis"), for_s=60)
    redis_process.fail_thaw = True
    with pytest.raises(FaultActionError, match="no such process"):
        faults.clear("freeze-redis")
    [kept] = faults.active()
    assert "healing 'freeze' failed: no such process" in kept.error
    assert kept.remaining_s is None
    assert events[-1].startswith("fault freeze-redis could not be healed (cleared): ")
    redis_process.fail_thaw = False
    assert faults.clear_all()[0].error is None
    assert faults.active() == []


def test_close_heals_the_last_added_first_and_takes_no_more(faults, calls) -> None:
    faults.add(SLOW)
    faults.add(ProviderErrorsFault(rates={429: 1.0}))
    calls.clear()
    healed = faults.close()
    assert [fault.name for fault in healed] == ["provider_errors", "latency-provider"]
    assert calls == [
        ("set_fault", {}, None),
        ("remove_toxic", "provider", "meltproof-latency-downstream"),
    ]
    with pytest.raises(FaultConflictError, match="stopping"):
        faults.add(SLOW)


def test_the_endpoint_answers_errors_with_their_status(faults) -> None:
    status, body = answer(faults, "POST", "/faults", {"fault": {"kind": "latency", "link": "x"}})
    assert status == 400
    assert "fault.latency.link: Input should be 'postgres', 'redis' or 'provider'" in body["error"]
    assert answer(faults, "DELETE", "/faults/nope", None)[0] == 404
    assert answer(faults, "GET", "/elsewhere", None)[0] == 404
    missing = {"fault": {"kind": "freeze", "service": "postgres"}}
    assert answer(faults, "POST", "/faults", missing)[0] == 409


@pytest.fixture
def control(faults, tmp_path: Path):
    served = FaultControl(faults, tmp_path)
    yield served
    served.close()


def test_the_control_file_is_private_and_gone_once_closed(faults, calls, tmp_path) -> None:
    control = FaultControl(faults, tmp_path)
    path = tmp_path / "control.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = ControlFile.read(tmp_path)
    assert (written.url, written.pid) == (control.url, os.getpid())
    connect(tmp_path).add(AddFault(fault=SLOW, for_s=60))
    control.close()
    assert not path.exists()
    assert calls[-1] == ("remove_toxic", "provider", "meltproof-latency-downstream")


def test_a_request_without_the_token_is_refused(control, tmp_path) -> None:
    client = connect(tmp_path)
    client.control = ControlFile(client.control.url, "guess", client.control.pid)
    with pytest.raises(FaultRefusedError, match="wrong or missing token") as refused:
        client.active()
    assert refused.value.status == 401


def _fault(*args: str, cwd: Path):
    return CliRunner().invoke(main, ["fault", *args, "--run-dir", str(cwd)], prog_name="meltproof")


def test_the_commands_add_list_and_clear_through_the_endpoint(control, tmp_path) -> None:
    added = _fault("add", "latency", "link=provider", "latency_ms=300", "--for", "2m", cwd=tmp_path)
    assert added.exit_code == 0, added.output
    assert "injected latency-provider: latency link=provider latency_ms=300 (for 2 min 00 s)" in (
        added.output
    )
    again = _fault("add", "latency", "link=provider", "latency_ms=900", cwd=tmp_path)
    assert "in place of latency-provider: latency link=provider latency_ms=300" in again.output
    _fault("add", "freeze", "service=redis", "--name", "pause", cwd=tmp_path)
    listed = _fault("list", cwd=tmp_path)
    assert listed.exit_code == 0
    rows = [line.split() for line in listed.output.splitlines()]
    assert ["latency-provider", "0.0", "s", "until", "cleared", "latency", "link=provider",
            "latency_ms=900"] in rows  # fmt: skip
    assert ["pause", "0.0", "s", "until", "cleared", "freeze", "service=redis"] in rows
    cleared = _fault("clear", "pause", "nope", cwd=tmp_path)
    assert cleared.exit_code == EXIT_HARNESS_ERROR
    assert "healed pause after 0.0 s: freeze service=redis" in cleared.output
    assert "error: no active fault is named 'nope'" in cleared.output
    assert "healed latency-provider" in _fault("clear", "--all", cwd=tmp_path).output
    assert "no active faults" in _fault("list", cwd=tmp_path).output


def test_a_fault_not_healed_fails_clear(control, redis_process, tmp_path) -> None:
    _fault("add", "freeze", "service=redis", cwd=tmp_path)
    redis_process.fail_thaw = True
    result = _fault("clear", "--all", cwd=tmp_path)
    assert result.exit_code == EXIT_HARNESS_ERROR
    assert "not healed: freeze-redis: healing 'freeze' failed" in result.output
    assert "not healed: freeze-redis" in _fault("list", cwd=tmp_path).output
    redis_process.fail_thaw = False


def test_the_latest_running_up_is_found_from_the_current_directory(
    control, tmp_path, monkeypatch
) -> None:
    runs = tmp_path / "work" / ".meltproof" / "runs"
    (runs / "old").mkdir(parents=True)
    (runs / "old" / "control.json").write_text((tmp_path / "control.json").read_text())
    (runs / "new").mkdir()
    stale = json.loads((tmp_path / "control.json").read_text()) | {"pid": 2**22 + 1}  # > pid_max
    (runs / "new" / "control.json").write_text(json.dumps(stale))
    monkeypatch.chdir(tmp_path / "work")
    result = CliRunner().invoke(main, ["fault", "list"], prog_name="meltproof")
    assert result.exit_code == 0, result.output
    assert "stack of .meltproof/runs/old" in result.output
