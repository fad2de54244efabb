"""Checks fair to any gateway: cache hits from the provider's ground truth, and checks whose
figure a target cannot give reading ``not_applicable`` rather than ``unknown``."""

import pytest
from op_support import answered, table_of
from run_support import counters, fault, provider_stats, stored_run
from timeline_support import series, with_timeline

from benchmarks.op import CacheStatus, Outcome
from scenarios.checks import (
    NOT_APPLICABLE,
    UNKNOWN,
    CacheHitRateCheck,
    DegradedRateCheck,
    TenantInFlightCheck,
    TenantTokensCheck,
)
from scenarios.checks.timeline import provider_timeline


URL_TARGET = {"name": "foreign", "target": {"gateway": None, "url": "http://127.0.0.1:1"}}


def chat_answers(count: int, **fields):
    """``count`` OK chat answers, one per second from 0."""
    return [answered(float(i), 0.1, **fields) for i in range(count)]


def run_of(rows, provider, *, endpoints=("chat",), tenants=("t",), **options):
    table = table_of(rows, endpoints=endpoints, tenants=tenants)
    return stored_run(table, provider=provider, scenario=URL_TARGET, **options)


def test_the_hit_rate_of_any_target_is_ok_answers_less_provider_200s():
    provider = with_timeline(series([2, 2]), series([1, 1], status="429"))
    result = CacheHitRateCheck(min=0.5).check(run_of(chat_answers(10), provider))
    assert (result.valid, result.observed) == (True, 0.6)
    assert result.details == (
        "OK answers served without a provider call (at least) among 10 OK answers (whole run) "
        "= 60.00% >= 50.00% (4 provider calls answered 200)"
    )
    assert CacheHitRateCheck(min=0.7).check(run_of(chat_answers(10), provider)).valid is False


def test_the_gateways_own_header_is_a_detail_beside_ground_truth():
    rows = chat_answers(4, cache=CacheStatus.HIT) + chat_answers(6, cache=CacheStatus.MISS)
    result = CacheHitRateCheck(min=0.5).check(run_of(rows, with_timeline(series([5]))))
    assert result.observed == 0.5
    assert result.details.endswith("; the gateway's x-cache says 40.00% hits and coalesced")


def test_a_degraded_answer_served_without_a_call_is_no_hit():
    rows = chat_answers(6) + chat_answers(4, degraded=True)
    result = CacheHitRateCheck(min=0.1).check(run_of(rows, with_timeline(series([4]))))
    assert result.observed == pytest.approx(0.2)  # 6 real answers, 4 provider calls, of 10


def test_more_provider_200s_than_answers_served_none_from_the_cache():
    result = CacheHitRateCheck(min=0.1).check(run_of(chat_answers(3), with_timeline(series([9]))))
    assert (result.valid, result.observed) == (False, 0.0)


def test_answers_are_matched_with_provider_calls_of_their_own_endpoint_kind():
    rows = chat_answers(6) + [answered(6.0 + i, 0.1, endpoint=1) for i in range(4)]
    provider = with_timeline(series([8]), series([0], endpoint="embeddings", model="embed"))
    run = run_of(rows, provider, endpoints=("chat", "embeddings"))
    assert CacheHitRateCheck(min=0.1).check(run).observed == pytest.approx(0.4)


def test_a_window_counts_the_provider_calls_that_arrived_in_it():
    provider = with_timeline(series([1] * 5 + [0] * 5))
    run = run_of(chat_answers(10), provider, faults=(fault(5.0, 10.0),))
    before = CacheHitRateCheck(min=0.5, window="before_faults").check(run)
    during = CacheHitRateCheck(min=0.5, window="during_faults").check(run)
    assert (before.observed, during.observed) == (0.0, 1.0)


def test_the_timeline_is_lined_up_with_the_loads_time_zero():
    provider = with_timeline(series([1, 1, 1, 1, 1]), origin_unix_s=-0.5)
    timeline = provider_timeline(run_of(chat_answers(10), provider))
    assert timeline is not None
    assert timeline.middles_s().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert timeline.calls(intervals=[(1.0, 3.0)]) == 2
    late = with_timeline(series([1, 1, 1, 1, 1]), origin_unix_s=2.0)
    span = CacheHitRateCheck(min=0.5, window={"from_s": 0, "to_s": 3})
    assert span.check(run_of(chat_answers(10), late)).observed == pytest.approx(2 / 3)


def test_one_tenants_hits_use_the_provider_calls_it_forwarded():
    rows = chat_answers(4, tenant=0) + chat_answers(4, tenant=1)
    provider = with_timeline(series([4], tenant="acme"), series([1], tenant="globex"))
    run = run_of(rows, provider, tenants=("acme", "globex"))
    assert CacheHitRateCheck(min=0.5, tenant="acme").check(run).observed == 0.0
    assert CacheHitRateCheck(min=0.5, tenant="globex").check(run).observed == 0.75


def test_one_tenants_hits_without_a_forwarded_tenant_header_fall_back_to_x_cache():
    run = run_of(chat_answers(4, tenant=0), with_timeline(series([4])), tenants=("acme",))
    result = CacheHitRateCheck(min=0.5, tenant="acme").check(run)
    assert (result.valid, "X-Tenant-Id" in result.details) == (NOT_APPLICABLE, True)
    rows = chat_answers(4, tenant=0, cache=CacheStatus.HIT)
    by_header = CacheHitRateCheck(min=0.5, tenant="acme").check(
        run_of(rows, with_timeline(series([4])), tenants=("acme",))
    )
    assert (by_header.valid, by_header.observed) == (True, 1.0)
    assert by_header.details.startswith("x-cache hits and coalesced among 4 OK answers")
    assert "(no ground truth: the provider saw no X-Tenant-Id header" in by_header.details


def test_a_fan_out_endpoint_leaves_the_hit_rate_undecided_without_the_header():
    rows = [*chat_answers(4), answered(5.0, 0.1, endpoint=1)]
    run = run_of(rows, with_timeline(series([2])), endpoints=("chat", "copilot_summarize"))
    result = CacheHitRateCheck(min=0.5).check(run)
    assert result.valid == UNKNOWN
    assert result.details.startswith("copilot_summarize fans out to several provider calls")
    unsent = [*chat_answers(4), {"intended_s": 5.0, "endpoint": 1, "outcome": Outcome.PENDING}]
    run = run_of(unsent, with_timeline(series([2])), endpoints=("chat", "copilot_summarize"))
    assert CacheHitRateCheck(min=0.5).check(run).observed == 0.5


def test_one_endpoint_beside_another_of_the_same_kind_is_undecided():
    rows = [*chat_answers(4), answered(5.0, 0.1, endpoint=1)]
    run = run_of(rows, with_timeline(series([2])), endpoints=("chat", "chat_stream"))
    result = CacheHitRateCheck(min=0.5, endpoint="chat").check(run)
    assert result.valid == UNKNOWN
    assert "chat and chat_stream are alike" in result.details
    assert CacheHitRateCheck(min=0.5).check(run).observed == pytest.approx(3 / 5)


def test_without_coalesced_answers_only_the_header_can_tell():
    result = CacheHitRateCheck(min=0.5, count_coalesced=False).check(
        run_of(chat_answers(4), with_timeline(series([1])))
    )
    assert result.valid == NOT_APPLICABLE
    assert "coalesced answer from a cached one" in result.details


def test_an_older_run_without_a_timeline_is_undecided_without_the_header():
    result = CacheHitRateCheck(min=0.5).check(run_of(chat_answers(4), provider_stats()))
    assert result.valid == UNKNOWN
    assert "no timeline" in result.details


def test_degraded_rate_is_not_applicable_to_a_target_that_flags_nothing_degraded():
    foreign = run_of(chat_answers(4), None)
    result = DegradedRateCheck(max=0.1).check(foreign)
    assert result.valid == NOT_APPLICABLE
    assert "target (url) flagged no answer degraded" in result.details
    flagged = run_of([*chat_answers(3), answered(3.0, 0.1, degraded=True)], None)
    assert DegradedRateCheck(max=0.1).check(flagged).observed == 0.25
    ours = stored_run(table_of(chat_answers(4)))
    assert (ours.target_kind, DegradedRateCheck(max=0.1).check(ours).valid) == ("gateway", True)


def test_tenant_limits_are_not_applicable_when_the_provider_saw_no_tenant_header():
    run = run_of(chat_answers(2), provider_stats(tenants={"-": counters(requests=2)}))
    for check in (TenantInFlightCheck(max={"acme": 1}), TenantTokensCheck(max={"acme": 1})):
        result = check.check(run)
        assert result.valid == NOT_APPLICABLE
        assert "X-Tenant-Id" in result.details
    idle = run_of(chat_answers(2), provider_stats())
    assert TenantTokensCheck(max={"acme": 1}).check(idle).valid is True


def test_tenant_limits_are_unknown_when_the_header_is_forwarded_on_some_calls_only():
    tenants = {"-": counters(requests=3), "acme": counters(requests=2, max_in_flight=1)}
    run = run_of(chat_answers(5), provider_stats(tenants=tenants))
    result = TenantInFlightCheck(max={"acme": 1}).check(run)
    assert result.valid == UNKNOWN
    assert "3 calls without an X-Tenant-Id header" in result.details
