"""Token buckets with a fake clock: admission, refill, retry-after, headers."""

from __future__ import annotations

import pytest

from stack.provider import KeyLimits, ModelSpec
from stack.provider.ratelimit import RateLimiter, go_duration


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0004, "1ms"),
        (0.12, "120ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (8.64, "8.64s"),
        (360, "6m0s"),
        (3723.5, "1h2m3.5s"),
    ],
)
def test_go_durations(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_no_limits_no_headers(clock: FakeClock) -> None:
    decision = RateLimiter(KeyLimits(), clock=clock).admit("k", ModelSpec(name="m"), tokens=10**6)
    assert decision.allowed
    assert decision.headers == {}


def test_rpm_admits_then_refuses_then_refills(clock: FakeClock) -> None:
    limiter = RateLimiter(KeyLimits(), clock=clock)
    spec = ModelSpec(name="m", rpm=3)
    first = limiter.admit("k", spec, tokens=10)
    assert first.headers == {
        "x-ratelimit-limit-requests": "3",
        "x-ratelimit-remaining-requests": "2",
        "x-ratelimit-reset-requests": "20s",
    }
    assert limiter.admit("k", spec, tokens=10).allowed
    assert limiter.admit("k", spec, tokens=10).allowed
    refused = limiter.admit("k", spec, tokens=10)
    assert not refused.allowed
    assert refused.rejection is not None
    assert (refused.rejection.kind, refused.rejection.scope) == ("requests", "deployment")
    assert (refused.rejection.limit, refused.rejection.used) == (3, 3)
    assert refused.headers["retry-after"] == "20"
    assert refused.headers["retry-after-ms"] == "20000"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"] == "1m0s"
    clock.advance(19.9)
    assert not limiter.admit("k", spec, tokens=10).allowed
    clock.advance(0.1)
    assert limiter.admit("k", spec, tokens=10).allowed


def test_retry_after_is_at_least_one_second(clock: FakeClock) -> None:
    limiter = RateLimiter(KeyLimits(), clock=clock)
    spec = ModelSpec(name="m", rpm=6000)
    for _ in range(6000):
        assert limiter.admit("k", spec, tokens=1).allowed
    refused = limiter.admit("k", spec, tokens=1)
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["retry-after-ms"] == "10"
    assert refused.headers["x-ratelimit-reset-requests"] == "1m0s"


def test_tpm_counts_tokens_and_a_refusal_costs_nothing(clock: FakeClock) -> None:
    limiter = RateLimiter(KeyLimits(), clock=clock)
    spec = ModelSpec(name="m", rpm=100, tpm=1000)
    ok = limiter.admit("k", spec, tokens=600)
    assert ok.headers["x-ratelimit-remaining-tokens"] == "400"
    assert ok.headers["x-ratelimit-reset-tokens"] == "36s"
    refused = limiter.admit("k", spec, tokens=600)
    assert refused.rejection is not None
    assert refused.rejection.kind == "tokens"
    assert refused.headers["retry-after-ms"] == "12000"  # 200 tokens at 1000/60 per second
    assert refused.headers["retry-after"] == "12"
    assert refused.headers["x-ratelimit-remaining-requests"] == "99"  # not consumed
    clock.advance(12)
    assert limiter.admit("k", spec, tokens=600).allowed


def test_a_request_larger_than_the_limit_never_fits(clock: FakeClock) -> None:
    limiter = RateLimiter(KeyLimits(), clock=clock)
    refused = limiter.admit("k", ModelSpec(name="m", tpm=100), tokens=101)
    assert refused.rejection is not None
    assert (refused.rejection.kind, refused.rejection.requested) == ("tokens", 101)
    assert refused.headers["retry-after"] == "1"


def test_key_limits_are_per_key_and_model(clock: FakeClock) -> None:
    limiter = RateLimiter(KeyLimits(rpm=2), clock=clock)
    spec, other = ModelSpec(name="m", rpm=100), ModelSpec(name="n")
    assert limiter.admit("a", spec, tokens=1).allowed
    second = limiter.admit("a", spec, tokens=1)
    assert second.headers["x-ratelimit-limit-requests"] == "2"  # the tighter bucket
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    refused = limiter.admit("a", spec, tokens=1)
    assert refused.rejection is not None
    assert refused.rejection.scope == "key"
    assert refused.headers["retry-after"] == "30"
    assert limiter.admit("b", spec, tokens=1).allowed
    assert limiter.admit("a", other, tokens=1).allowed


def test_deployment_limits_are_shared_by_all_keys(clock: FakeClock) -> None:
    limiter = RateLimiter(KeyLimits(rpm=10, tpm=10_000), clock=clock)
    spec = ModelSpec(name="m", rpm=3)
    for key in ("a", "b", "c"):
        assert limiter.admit(key, spec, tokens=1).allowed
    refused = limiter.admit("d", spec, tokens=1)
    assert refused.rejection is not None
    assert refused.rejection.scope == "deployment"
    assert refused.headers["x-ratelimit-limit-tokens"] == "10000"
    assert refused.headers["x-ratelimit-remaining-tokens"] == "10000"
