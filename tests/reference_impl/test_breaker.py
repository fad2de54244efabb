"""The circuit breaker: failure rate over a sliding window, open, half-open probes."""

import pytest
from fake_clock import FakeClock

from reference_impl.breaker import (
    Admission,
    BreakerPolicy,
    Breakers,
    BreakerState,
    CircuitBreaker,
    TransitionCallback,
)
from reference_impl.window import SlidingCount


CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
POLICY = BreakerPolicy(
    window_s=10.0, buckets=10, min_calls=20, failure_rate=0.5, open_s=5.0, half_open_probes=3
)


def admitted(breaker: CircuitBreaker) -> Admission:
    admission = breaker.admit()
    assert admission is not None
    return admission


def report(breaker: CircuitBreaker, *, successes: int = 0, failures: int = 0) -> None:
    for _ in range(successes):
        admitted(breaker).succeeded()
    for _ in range(failures):
        admitted(breaker).failed()


def tripped(clock: FakeClock, on_transition: TransitionCallback | None = None) -> CircuitBreaker:
    breaker = CircuitBreaker("gpt-a", POLICY, clock=clock, on_transition=on_transition)
    report(breaker, failures=POLICY.min_calls)
    assert breaker.state is OPEN
    return breaker


def half_open(clock: FakeClock, on_transition: TransitionCallback | None = None) -> CircuitBreaker:
    breaker = tripped(clock, on_transition)
    clock.advance(POLICY.open_s)
    assert breaker.state is HALF_OPEN
    return breaker


def test_stays_closed_below_min_calls_even_when_every_call_fails():
    breaker = CircuitBreaker("gpt-a", POLICY, clock=FakeClock())
    report(breaker, failures=POLICY.min_calls - 1)
    assert breaker.state is CLOSED
    assert breaker.admit() is not None


def test_trips_when_the_failure_rate_reaches_the_threshold():
    breaker = CircuitBreaker("gpt-a", POLICY, clock=FakeClock())
    report(breaker, successes=11, failures=9)  # 20 calls, 45 %
    assert breaker.state is CLOSED
    report(breaker, failures=1)  # 21 calls, 47.6 %
    assert breaker.state is CLOSED
    report(breaker, failures=1)  # 22 calls, 50 %
    assert breaker.state is OPEN


@pytest.mark.parametrize(
    ("later_s", "expected"), [(5.0, OPEN), (9.0, OPEN), (10.0, CLOSED), (60.0, CLOSED)]
)
def test_old_failures_slide_out_of_the_window(later_s, expected):
    clock = FakeClock()
    breaker = CircuitBreaker("gpt-a", POLICY, clock=clock)
    report(breaker, failures=15)
    clock.advance(later_s)
    report(breaker, failures=5)
    assert breaker.state is expected


def test_open_rejects_and_counts_down_to_half_open():
    clock = FakeClock()
    breaker = tripped(clock)
    assert breaker.admit() is None
    assert breaker.retry_after_s() == 5.0
    clock.advance(2.0)
    assert breaker.admit() is None
    assert breaker.retry_after_s() == 3.0
    clock.advance(3.0)
    assert breaker.retry_after_s() == 0.0
    assert breaker.state is HALF_OPEN


def test_retry_after_is_zero_when_not_open():
    clock = FakeClock()
    assert CircuitBreaker("gpt-a", POLICY, clock=clock).retry_after_s() == 0.0
    assert half_open(clock).retry_after_s() == 0.0


def test_half_open_admits_exactly_the_probe_limit_at_once():
    breaker = half_open(FakeClock())
    probes = [admitted(breaker) for _ in range(POLICY.half_open_probes)]
    assert breaker.admit() is None
    probes[0].succeeded()
    assert breaker.admit() is not None
    assert breaker.admit() is None


def test_a_probe_failure_reopens_for_a_full_open_period():
    clock = FakeClock()
    breaker = half_open(clock)
    first, second = admitted(breaker), admitted(breaker)
    first.failed()
    assert breaker.state is OPEN
    assert breaker.retry_after_s() == POLICY.open_s
    second.succeeded()  # a probe of the half-open period that ended
    assert breaker.state is OPEN


def test_probe_successes_close_it_with_a_fresh_window():
    clock = FakeClock()
    breaker = half_open(clock)
    for _ in range(POLICY.half_open_probes - 1):
        admitted(breaker).succeeded()
        assert breaker.state is HALF_OPEN
    admitted(breaker).succeeded()
    assert breaker.state is CLOSED
    report(breaker, successes=11, failures=9)  # the 20 failures before it opened are gone
    assert breaker.state is CLOSED
    report(breaker, failures=2)  # and so are their calls: 11 of 22 failed
    assert breaker.state is OPEN


def test_abandoned_frees_a_probe_slot_and_counts_for_nothing():
    breaker = half_open(FakeClock())
    probes = [admitted(breaker) for _ in range(POLICY.half_open_probes)]
    probes[0].abandoned()
    probes.append(admitted(breaker))
    assert breaker.admit() is None
    for probe in probes[1:-1]:
        probe.succeeded()
    assert breaker.state is HALF_OPEN
    probes[-1].succeeded()
    assert breaker.state is CLOSED


def test_abandoned_calls_are_not_counted_while_closed():
    breaker = CircuitBreaker("gpt-a", POLICY, clock=FakeClock())
    for _ in range(5):
        admitted(breaker).abandoned()
    report(breaker, failures=POLICY.min_calls - 1)
    assert breaker.state is CLOSED
    report(breaker, failures=1)
    assert breaker.state is OPEN


def test_a_second_report_on_an_admission_is_ignored():
    breaker = CircuitBreaker("gpt-a", POLICY, clock=FakeClock())
    for _ in range(10):
        admission = admitted(breaker)
        admission.failed()
        admission.failed()
    report(breaker, successes=9)
    assert breaker.state is CLOSED  # 19 calls counted, not 29


def test_a_second_report_on_a_probe_is_ignored():
    breaker = half_open(FakeClock())
    probe = admitted(breaker)
    probe.succeeded()
    probe.succeeded()
    probe.failed()
    assert breaker.state is HALF_OPEN
    report(breaker, successes=POLICY.half_open_probes - 2)
    assert breaker.state is HALF_OPEN
    report(breaker, successes=1)
    assert breaker.state is CLOSED


def test_late_outcomes_of_closed_time_calls_change_nothing():
    clock = FakeClock()
    breaker = CircuitBreaker("gpt-a", POLICY, clock=clock)
    late = [admitted(breaker) for _ in range(2 * POLICY.half_open_probes + 1)]
    report(breaker, failures=POLICY.min_calls)
    late.pop().failed()  # arrives while open
    assert breaker.retry_after_s() == POLICY.open_s
    clock.advance(POLICY.open_s)
    probes = [admitted(breaker) for _ in range(POLICY.half_open_probes)]
    for admission in late[: POLICY.half_open_probes]:
        admission.succeeded()
    assert breaker.state is HALF_OPEN  # not closed by calls that were no probes
    assert breaker.admit() is None  # and no probe slot was freed
    for admission in late[POLICY.half_open_probes :]:
        admission.failed()
    assert breaker.state is HALF_OPEN  # nor reopened
    for probe in probes:
        probe.succeeded()
    assert breaker.state is CLOSED


def test_transitions_are_reported_in_order():
    clock = FakeClock()
    seen: list[tuple[str, BreakerState, BreakerState]] = []
    breaker = half_open(clock, on_transition=lambda *change: seen.append(change))
    admitted(breaker).failed()
    clock.advance(POLICY.open_s)
    report(breaker, successes=POLICY.half_open_probes)
    assert seen == [
        ("gpt-a", CLOSED, OPEN),
        ("gpt-a", OPEN, HALF_OPEN),
        ("gpt-a", HALF_OPEN, OPEN),
        ("gpt-a", OPEN, HALF_OPEN),
        ("gpt-a", HALF_OPEN, CLOSED),
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("window_s", 0.0),
        ("buckets", 0),
        ("min_calls", 0),
        ("failure_rate", 0.0),
        ("failure_rate", 1.5),
        ("open_s", -1.0),
        ("half_open_probes", 0),
        ("window_s", float("nan")),
    ],
)
def test_policy_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        BreakerPolicy(**{field: value})


def test_failure_rate_of_one_is_valid():
    assert BreakerPolicy(failure_rate=1.0).failure_rate == 1.0


def test_breakers_make_one_breaker_per_deployment_with_shared_settings():
    clock = FakeClock()
    seen: list[tuple[str, BreakerState, BreakerState]] = []
    breakers = Breakers(POLICY, clock=clock, on_transition=lambda *change: seen.append(change))
    a = breakers.for_deployment("gpt-a")
    assert breakers.for_deployment("gpt-a") is a
    b = breakers.for_deployment("gpt-b")
    assert b is not a
    report(b, failures=POLICY.min_calls)
    assert breakers.states() == {"gpt-a": CLOSED, "gpt-b": OPEN}
    clock.advance(POLICY.open_s)
    assert breakers.states() == {"gpt-a": CLOSED, "gpt-b": HALF_OPEN}
    assert seen == [("gpt-b", CLOSED, OPEN), ("gpt-b", OPEN, HALF_OPEN)]


def test_sliding_count_covers_the_window_in_buckets():
    clock = FakeClock(0.0)
    count = SlidingCount(window_s=4.0, buckets=4, clock=clock)
    count.add()
    clock.advance(2.5)
    count.add(2)
    assert count.total() == 3
    clock.advance(1.5)  # t=4.0: the bucket [0, 1) has left
    assert count.total() == 2
    clock.advance(100.0)
    assert count.total() == 0
    count.add()
    count.clear()
    assert count.total() == 0
