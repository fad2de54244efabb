"""run_timeline's scheduling and clean-up, against recording fakes and a clock moved by sleep.

The fakes stand for Toxiproxy, the provider and processes: what is tested here is when the
timeline calls inject and heal, not what those calls do (the integration tests do that).
"""

import asyncio
import time

import pytest
from fault_fakes import Calls, FakeClock, FakeProcess, FakeProvider, FakeToxiproxy

from faults import FaultCleanupError, FaultContext, FaultEvent, run_timeline


TIME_ZERO = 1000.0
TOXIC = "meltproof-latency-downstream"


@pytest.fixture
def clock():
    return FakeClock(TIME_ZERO)


@pytest.fixture
def calls(clock):
    return Calls(clock)


def _context(calls, **overrides):
    parts = {
        "toxiproxy": FakeToxiproxy(calls),
        "provider": FakeProvider(calls),
        "processes": {
            "redis": FakeProcess(calls, "redis"),
            "postgres": FakeProcess(calls, "postgres"),
        },
    } | overrides
    return FaultContext(**parts)


def _event(fault, **timing):
    return FaultEvent.model_validate({"fault": fault, **timing})


LATENCY = {"kind": "latency", "link": "redis", "latency_ms": 100}


async def _run(events, ctx, clock, *, duration_s=10.0, on_record=None):
    return await run_timeline(
        events,
        ctx,
        time_zero=TIME_ZERO,
        duration_s=duration_s,
        on_record=on_record,
        clock=clock,
        sleep=clock.sleep,
    )


def _relative(calls, *names):
    """(seconds from time zero, call) of the calls named."""
    return [(at - TIME_ZERO, call) for at, call in calls.at() if call[0] in names]


async def test_a_fault_is_injected_at_its_time_and_healed_after_its_window(calls, clock):
    (record,) = await _run([_event(LATENCY, at_s=1, for_s=2)], _context(calls), clock)
    assert _relative(calls, "add_toxic", "remove_toxic") == [
        (1, ("remove_toxic", "redis", TOXIC)),
        (1, ("add_toxic", "redis", TOXIC, "latency", {"latency": 100, "jitter": 0})),
        (3, ("remove_toxic", "redis", TOXIC)),
    ]
    assert (record.name, record.kind, record.target, record.planned_at_s) == (
        "latency", "latency", "redis", 1.0
    )  # fmt: skip
    assert (record.started_at, record.ended_at, record.error) == (1001.0, 1003.0, None)
    assert record.params["latency_ms"] == 100


async def test_the_clean_up_resets_toxiproxy_and_the_provider_at_the_end(calls, clock):
    await _run([_event(LATENCY, at_s=1, for_s=2)], _context(calls), clock)
    assert calls.names()[-2:] == ["toxiproxy_reset", "clear_faults"]


async def test_a_fault_without_a_window_heals_when_the_load_ends(calls, clock):
    (record,) = await _run([_event(LATENCY, at_s=4)], _context(calls), clock, duration_s=6)
    assert record.ended_at == TIME_ZERO + 6


async def test_a_repeated_fault_is_recorded_once_per_activation(calls, clock):
    records = await _run(
        [_event(LATENCY, at_s=1, for_s=1, every_s=3)], _context(calls), clock, duration_s=8
    )
    windows = [(r.planned_at_s, r.started_at - TIME_ZERO, r.ended_at - TIME_ZERO) for r in records]
    assert windows == [(1, 1, 2), (4, 4, 5), (7, 7, 8)]
    assert [at for at, call in _relative(calls, "add_toxic")] == [1, 4, 7]


async def test_a_ramp_raises_the_intensity_in_steps_and_heals_once(calls, clock):
    brownout = {"kind": "brownout", "latency_multiplier": 5}
    (record,) = await _run(
        [_event(brownout, at_s=0, for_s=4, ramp_steps=4)], _context(calls), clock
    )
    assert _relative(calls, "set_fault") == [
        (0, ("set_fault", {"latency_multiplier": 2.0}, None)),
        (1, ("set_fault", {"latency_multiplier": 3.0}, None)),
        (2, ("set_fault", {"latency_multiplier": 4.0}, None)),
        (3, ("set_fault", {"latency_multiplier": 5.0}, None)),
        (4, ("set_fault", {}, None)),  # the default slot healed: an empty spec
    ]
    assert record.params["latency_multiplier"] == 5
    assert record.params["ramp_steps"] == 4
    assert record.ended_at == TIME_ZERO + 4


async def test_healing_a_model_fault_clears_only_that_model(calls, clock):
    errors = {"kind": "provider_errors", "rates": {429: 1.0}, "model": "gpt-4o"}
    await _run([_event(errors, at_s=0, for_s=1)], _context(calls), clock)
    assert _relative(calls, "set_fault", "clear_faults") == [
        (0, ("set_fault", {"error_rates": {429: 1.0}, "retry_after_s": 1.0}, "gpt-4o")),
        (1, ("clear_faults", "gpt-4o")),
        (1, ("clear_faults",)),  # the clean-up at the end
    ]


async def test_a_later_fault_on_the_same_slot_replaces_the_earlier_until_it_heals(calls, clock):
    errors = {"kind": "provider_errors", "rates": {503: 0.5}}
    brownout = {"kind": "brownout", "latency_multiplier": 3}
    await _run(
        [_event(errors, at_s=0, for_s=8), _event(brownout, at_s=2, for_s=3)],
        _context(calls),
        clock,
    )
    errors_spec = {"error_rates": {503: 0.5}, "retry_after_s": 1.0}
    assert _relative(calls, "set_fault") == [
        (0, ("set_fault", errors_spec, None)),
        (2, ("set_fault", {"latency_multiplier": 3.0}, None)),
        (5, ("set_fault", {}, None)),
        (5, ("set_fault", errors_spec, None)),  # the earlier fault, injected again
        (8, ("set_fault", {}, None)),
    ]


async def test_an_earlier_fault_ending_under_a_later_one_leaves_the_slot_alone(calls, clock):
    errors = {"kind": "provider_errors", "rates": {503: 0.5}}
    brownout = {"kind": "brownout", "latency_multiplier": 3}
    records = await _run(
        [_event(errors, at_s=0, for_s=4), _event(brownout, at_s=2, for_s=6)],
        _context(calls),
        clock,
    )
    assert [at for at, _ in _relative(calls, "set_fault")] == [0, 2, 8]
    assert [r.ended_at - TIME_ZERO for r in records] == [4, 8]


async def test_faults_on_different_slots_do_not_interfere(calls, clock):
    events = [
        _event(LATENCY, at_s=0, for_s=5),
        _event({**LATENCY, "link": "postgres"}, at_s=1, for_s=1),
    ]
    await _run(events, _context(calls), clock)
    assert _relative(calls, "remove_toxic")[-2:] == [
        (2, ("remove_toxic", "postgres", TOXIC)),
        (5, ("remove_toxic", "redis", TOXIC)),
    ]


async def test_a_failed_injection_is_recorded_and_the_run_goes_on(calls, clock):
    ctx = _context(calls, toxiproxy=FakeToxiproxy(calls, fail_add=True))
    records = await _run(
        [
            _event(LATENCY, at_s=0, for_s=1),
            _event({"kind": "freeze", "service": "redis"}, at_s=2, for_s=1),
        ],
        ctx,
        clock,
    )
    assert records[0].error.startswith("inject failed: injecting 'latency' failed")
    assert "bad toxic" in records[0].error
    assert records[0].ended_at == TIME_ZERO + 1  # the heal was still made
    assert records[1].error is None
    assert _relative(calls, "freeze", "thaw")[:2] == [
        (2, ("freeze", "redis")),
        (3, ("thaw", "redis")),
    ]


async def test_a_fault_whose_component_is_missing_says_so_and_is_not_healed(calls, clock):
    ctx = _context(calls, processes={}, toxiproxy=None)
    records = await _run(
        [_event({"kind": "freeze", "service": "redis"}, at_s=0, for_s=1), _event(LATENCY, at_s=0)],
        ctx,
        clock,
    )
    assert [r.error for r in records] == [
        "inject failed: fault 'freeze' needs the stack's redis process; the target has none",
        "inject failed: fault 'latency' needs Toxiproxy; the target has none",
    ]
    assert calls.names() == ["clear_faults"]


async def test_a_killed_process_is_started_again_at_heal(calls, clock):
    kill = {"kind": "kill_restart", "service": "postgres", "restart_timeout_s": 12}
    (record,) = await _run([_event(kill, at_s=1, for_s=2)], _context(calls), clock)
    assert _relative(calls, "kill", "start") == [
        (1, ("kill", "postgres")),
        (3, ("start", "postgres", 12.0)),
    ]
    assert record.target == "postgres"


async def test_on_record_sees_each_injection_and_heal(calls, clock):
    seen = []
    await _run([_event(LATENCY, at_s=1, for_s=2)], _context(calls), clock, on_record=seen.append)
    assert [(r.started_at, r.ended_at) for r in seen] == [(1001.0, None), (1001.0, 1003.0)]


async def test_an_on_record_that_raises_does_not_stop_the_faults(calls, clock, caplog):
    def explode(record):
        raise RuntimeError("display broke")

    (record,) = await _run(
        [_event(LATENCY, at_s=1, for_s=2)], _context(calls), clock, on_record=explode
    )
    assert record.ended_at == TIME_ZERO + 3
    assert "on_record failed" in caplog.text


async def test_a_failing_clean_up_raises_with_the_records(calls, clock):
    ctx = _context(calls, toxiproxy=FakeToxiproxy(calls, fail_reset=True))
    with pytest.raises(FaultCleanupError) as info:
        await _run([_event(LATENCY, at_s=1, for_s=2)], ctx, clock)
    assert "resetting Toxiproxy" in str(info.value)
    assert [r.ended_at for r in info.value.records] == [TIME_ZERO + 3]
    assert "clear_faults" in calls.names()  # the other resets were still made


async def test_without_events_nothing_is_touched_but_the_resets(calls, clock):
    assert await _run([], _context(calls), clock) == []
    assert calls.names() == ["toxiproxy_reset", "clear_faults"]


async def test_cancelling_heals_every_active_fault_and_restores_processes():
    calls = Calls(time.time)
    redis, postgres = FakeProcess(calls, "redis"), FakeProcess(calls, "postgres")
    ctx = _context(calls, processes={"redis": redis, "postgres": postgres})
    injected = asyncio.Event()
    seen = []

    def on_record(record):
        seen.append(record)
        if len(seen) == 3:
            injected.set()

    events = [
        _event(LATENCY, at_s=0, for_s=100),
        _event({"kind": "freeze", "service": "redis"}, at_s=0),
        _event({"kind": "kill_restart", "service": "postgres"}, at_s=0, for_s=100),
    ]
    task = asyncio.create_task(
        run_timeline(events, ctx, time_zero=time.time(), duration_s=300, on_record=on_record)
    )
    await asyncio.wait_for(injected.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    names = calls.names()
    assert names.count("remove_toxic") == 2  # before the add, and the heal
    assert "thaw" in names
    assert ("start", "postgres", 30.0) in [call for _, call in calls.at()]
    assert names[-4:-2] == ["toxiproxy_reset", "clear_faults"]
    assert redis.running()
    assert not redis.frozen
    assert postgres.running()
    healed = {r.name: r.ended_at for r in seen if r.ended_at is not None}
    assert set(healed) == {"latency", "freeze", "kill_restart"}
