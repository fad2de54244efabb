"""Checks on the provider's ground-truth counters: tokens, cost, amplification, tenants."""

import math

import pytest
from op_support import answered, table_of
from run_support import counters, provider_stats, stored_run

from benchmarks.op import Outcome
from scenarios.checks import (
    NOT_APPLICABLE,
    UNKNOWN,
    CostPerRequestCheck,
    TenantInFlightCheck,
    TenantTokensCheck,
    TokensPerRequestCheck,
    UpstreamAmplificationCheck,
)


PRICES = {
    "small": {"input_per_mtok_usd": 1.0, "output_per_mtok_usd": 2.0},
    "large": {"input_per_mtok_usd": 10.0, "output_per_mtok_usd": 20.0},
}


def run_with(provider, *, sent: int = 10, unsent: int = 0, **options):
    rows = [answered(float(i), 0.1) for i in range(sent)]
    rows += [{"intended_s": 9.9, "outcome": Outcome.PENDING}] * unsent
    return stored_run(table_of(rows), provider=provider, prices=PRICES, **options)


STATS = provider_stats(
    tenants={
        "acme": counters(requests=8, prompt_tokens=800, completion_tokens=400, max_in_flight=3),
        "globex": counters(requests=4, prompt_tokens=200, completion_tokens=100, max_in_flight=6),
    },
    models={
        "small": counters(requests=10, prompt_tokens=900, completion_tokens=450),
        "large": counters(requests=2, prompt_tokens=100, completion_tokens=50),
    },
)


def test_tokens_per_request_divides_provider_tokens_by_requests_sent():
    result = TokensPerRequestCheck(max=150).check(run_with(STATS, unsent=5))
    assert (result.valid, result.observed, result.unit) == (True, 150, "tokens")
    assert "1,500 / 10" in result.details
    assert TokensPerRequestCheck(max=149).check(run_with(STATS)).valid is False


def test_provider_checks_without_provider_counters_are_not_applicable():
    run = run_with(None)
    for check in (
        TokensPerRequestCheck(max=1),
        CostPerRequestCheck(max_usd=1),
        UpstreamAmplificationCheck(max=1),
        TenantInFlightCheck(max={"acme": 1}),
        TenantTokensCheck(max={"acme": 1}),
    ):
        result = check.check(run)
        assert result.valid == NOT_APPLICABLE
        assert "no provider counters" in result.details


def test_cost_per_request_prices_each_models_tokens():
    expected_usd = (900 * 1 + 450 * 2 + 100 * 10 + 50 * 20) / 1e6 / 10
    result = CostPerRequestCheck(max_usd=0.0004).check(run_with(STATS))
    assert (result.valid, result.unit) == (True, "usd")
    assert result.observed == pytest.approx(expected_usd)
    assert CostPerRequestCheck(max_usd=0.0003).check(run_with(STATS)).valid is False


def test_cost_of_a_model_without_a_price_is_unknown_unless_it_served_nothing():
    idle = dict(STATS, models={**STATS["models"], "mystery": counters()})
    assert CostPerRequestCheck(max_usd=1).check(run_with(idle)).valid is True
    busy = dict(STATS, models={**STATS["models"], "mystery": counters(prompt_tokens=5)})
    result = CostPerRequestCheck(max_usd=1).check(run_with(busy))
    assert result.valid == UNKNOWN
    assert "'mystery'" in result.details


def test_amplification_relative_to_the_oracle():
    run = run_with(STATS, oracle_min_calls=8, oracle_distinct=4)
    result = UpstreamAmplificationCheck(max=1.5).check(run)
    assert (result.valid, result.observed, result.unit) == (True, 1.5, "ratio")
    assert "oracle's minimum upstream calls (ttl 300 s)" in result.details
    assert UpstreamAmplificationCheck(max=1.4, ttl_s=60).check(run).valid is False
    forever = UpstreamAmplificationCheck(max=2.5, ttl_s=math.inf).check(run)
    assert (forever.valid, forever.observed) == (False, 3.0)


def test_amplification_relative_to_client_requests():
    result = UpstreamAmplificationCheck(max=1, relative_to="requests").check(run_with(STATS))
    assert (result.valid, result.observed) == (False, pytest.approx(1.2))


def test_amplification_without_an_oracle_for_the_ttl_is_unknown():
    missing_ttl = UpstreamAmplificationCheck(max=2, ttl_s=30).check(run_with(STATS))
    assert missing_ttl.valid == UNKNOWN
    assert "no oracle for ttl 30 s (stored: 300, 60)" in missing_ttl.details
    no_oracle = UpstreamAmplificationCheck(max=2).check(run_with(STATS))
    assert no_oracle.valid == UNKNOWN


def test_tenant_in_flight_caps():
    run = run_with(STATS)
    result = TenantInFlightCheck(max={"acme": 4, "globex": 6, "initech": 1}).check(run)
    assert (result.valid, result.observed, result.limit) == (True, 6, 6)
    over = TenantInFlightCheck(max={"acme": 4, "globex": 5}).check(run)
    assert (over.valid, over.observed, over.limit, over.unit) == (False, 6, 5, "count")
    assert "acme 3 <= 4, globex 6 > 5" in over.details


def test_tenant_tokens_limits():
    run = run_with(STATS)
    assert TenantTokensCheck(max={"acme": 1200, "globex": 300}).check(run).valid is True
    result = TenantTokensCheck(max={"acme": 1000}).check(run)
    assert (result.valid, result.observed, result.unit) == (False, 1200, "tokens")


def test_malformed_provider_counters_read_unknown_with_the_exception():
    result = UpstreamAmplificationCheck(max=1).check(run_with({"total": {}}, oracle_min_calls=5))
    assert result.valid == UNKNOWN
    assert result.details == "the check raised KeyError: 'requests'"
