"""GatewayMetrics: samples after events, separate registries, multi-worker aggregation."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from reference_impl.metrics import OTHER, GatewayMetrics, _Observations, _Values


REPO = Path(__file__).resolve().parents[2]

Labels = frozenset[tuple[str, str]]


def samples(body: bytes) -> dict[tuple[str, Labels], float]:
    """Every sample of an exposition, keyed by sample name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def labels(**values: str) -> Labels:
    return frozenset(values.items())


@pytest.fixture(autouse=True)
def _single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


def test_events_become_samples_with_their_values() -> None:
    metrics = GatewayMetrics(models=["gpt-4o", "gpt-4o-mini"], prompt_versions=["v2"])
    metrics.request_finished(route="chat", tenant="acme", status=200, cache="miss", seconds=0.3)
    metrics.request_finished(route="chat", tenant="acme", status=201, cache="miss", seconds=0.004)
    metrics.request_finished(route="chat", tenant="acme", status=503, cache="miss", seconds=12.0)
    metrics.usage(
        tenant="acme",
        model="gpt-4o",
        prompt_version="v2",
        prompt_tokens=120,
        completion_tokens=30,
        cost_usd=0.0006,
    )
    metrics.usage(
        tenant="acme",
        model="gpt-4o",
        prompt_version="v2",
        prompt_tokens=80,
        completion_tokens=10,
        cost_usd=0.0004,
    )
    metrics.cache("hit")
    metrics.cache("hit")
    metrics.cache("coalesced")
    metrics.upstream_attempt(model="gpt-4o", outcome="http_429", seconds=0.2)
    metrics.retry(outcome="budget_exhausted")
    metrics.breaker_transition("gpt-4o@east", "closed", "open")
    metrics.breaker_transition("gpt-4o@east", "open", "half_open")
    metrics.fallback(from_model="gpt-4o", to_model="gpt-4o-mini")
    metrics.degraded(route="chat", reason="stale_cache")
    metrics.budget(tenant="acme", event="downgrade")
    metrics.limiter(scope="global", event="local_fallback")
    metrics.structured(outcome="repaired")

    body, content_type = metrics.render()
    got = samples(body)

    assert content_type.startswith("text/plain")
    p = "meltproof_gateway_"
    requests = p + "requests_total"
    assert got[requests, labels(route="chat", tenant="acme", status_class="2xx", cache="miss")] == 2
    assert got[requests, labels(route="chat", tenant="acme", status_class="5xx", cache="miss")] == 1
    duration = p + "request_duration_seconds"
    assert got[duration + "_count", labels(route="chat", cache="miss")] == 3
    assert got[duration + "_sum", labels(route="chat", cache="miss")] == pytest.approx(12.304)
    assert got[duration + "_bucket", labels(route="chat", cache="miss", le="0.005")] == 1
    assert got[duration + "_bucket", labels(route="chat", cache="miss", le="0.5")] == 2
    assert got[duration + "_bucket", labels(route="chat", cache="miss", le="30.0")] == 3
    usage = {"tenant": "acme", "model": "gpt-4o", "prompt_version": "v2"}
    assert got[p + "tokens_total", labels(**usage, direction="in")] == 200
    assert got[p + "tokens_total", labels(**usage, direction="out")] == 40
    assert got[p + "cost_usd_total", labels(**usage)] == pytest.approx(0.001)
    assert got[p + "cache_total", labels(result="hit")] == 2
    assert got[p + "cache_total", labels(result="coalesced")] == 1
    assert got[p + "upstream_attempts_total", labels(model="gpt-4o", outcome="http_429")] == 1
    assert got[p + "retries_total", labels(outcome="budget_exhausted")] == 1
    assert got[p + "breaker_transitions_total", labels(deployment="gpt-4o@east", to="open")] == 1
    transitions = labels(deployment="gpt-4o@east", to="half_open")
    assert got[p + "breaker_transitions_total", transitions] == 1
    assert got[p + "breaker_state", labels(deployment="gpt-4o@east")] == 1
    assert got[p + "fallbacks_total", labels(from_model="gpt-4o", to_model="gpt-4o-mini")] == 1
    assert got[p + "degraded_total", labels(route="chat", reason="stale_cache")] == 1
    assert got[p + "budget_events_total", labels(tenant="acme", event="downgrade")] == 1
    assert got[p + "limiter_events_total", labels(scope="global", event="local_fallback")] == 1
    assert got[p + "structured_output_total", labels(outcome="repaired")] == 1


def test_breaker_state_gauge_follows_the_last_transition() -> None:
    metrics = GatewayMetrics()
    key = ("meltproof_gateway_breaker_state", labels(deployment="d1"))

    metrics.breaker_transition("d1", "closed", "open")
    assert samples(metrics.render()[0])[key] == 2
    metrics.breaker_transition("d1", "half_open", "closed")
    assert samples(metrics.render()[0])[key] == 0


def test_two_instances_do_not_share_counts() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.cache("hit")
    first.cache("hit")
    second.cache("hit")

    key = ("meltproof_gateway_cache_total", labels(result="hit"))
    assert samples(first.render()[0])[key] == 2
    assert samples(second.render()[0])[key] == 1


def test_refuses_a_multiprocess_directory_set_after_import(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    with pytest.raises(RuntimeError, match="before the workers start"):
        GatewayMetrics()


WORKER = """
from reference_impl.metrics import GatewayMetrics
metrics = GatewayMetrics(models=["gpt-4o"], prompt_versions=["v1"])
for _ in range({requests}):
    metrics.request_finished(route="chat", tenant="acme", status=200, cache="hit", seconds=0.02)
metrics.usage(tenant="acme", model="gpt-4o", prompt_version="v1", prompt_tokens={tokens},
              completion_tokens=1, cost_usd=0.5)
metrics.breaker_transition("east", "closed", "{state}")
"""

SCRAPER = """
import sys
from reference_impl.metrics import GatewayMetrics
sys.stdout.buffer.write(GatewayMetrics().render()[0])
"""


def run_python(code: str, multiproc_dir: Path) -> bytes:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_render_sums_all_workers_when_multiprocess(tmp_path: Path) -> None:
    run_python(WORKER.format(requests=3, tokens=100, state="open"), tmp_path)
    run_python(WORKER.format(requests=4, tokens=20, state="closed"), tmp_path)

    got = samples(run_python(SCRAPER, tmp_path))

    p = "meltproof_gateway_"
    ok = labels(route="chat", tenant="acme", status_class="2xx", cache="hit")
    assert got[p + "requests_total", ok] == 7
    assert got[p + "request_duration_seconds_count", labels(route="chat", cache="hit")] == 7
    usage = {"tenant": "acme", "model": "gpt-4o", "prompt_version": "v1"}
    assert got[p + "tokens_total", labels(**usage, direction="in")] == 120
    assert got[p + "cost_usd_total", labels(**usage)] == pytest.approx(1.0)
    assert got[p + "breaker_state", labels(deployment="east")] == 2


def test_unknown_models_and_prompt_versions_share_one_label() -> None:
    metrics = GatewayMetrics(models=["gpt-4o", "local-llm"], prompt_versions=["v1", "default"])
    for index in range(200):
        metrics.usage(
            tenant="t", model=f"m{index}", prompt_version=f"v{index}",
            prompt_tokens=1, completion_tokens=0, cost_usd=0.0,
        )  # fmt: skip
        metrics.upstream_attempt(model=f"m{index}", outcome="ok", seconds=0.1)
        metrics.fallback(from_model="gpt-4o", to_model=f"m{index}")
    metrics.usage(
        tenant="t", model="gpt-4o", prompt_version="default",
        prompt_tokens=1, completion_tokens=0, cost_usd=0.0,
    )  # fmt: skip
    text = metrics.render()[0].decode()

    assert set(re.findall(r'prompt_version="([^"]+)"', text)) == {"v1", "default", OTHER}
    assert set(re.findall(r'[{,]model="([^"]+)"', text)) == {"gpt-4o", OTHER}
    assert set(re.findall(r'to_model="([^"]+)"', text)) == {OTHER}
    got = samples(text.encode())
    other = labels(tenant="t", model=OTHER, prompt_version=OTHER, direction="in")
    assert got["meltproof_gateway_tokens_total", other] == 199  # v1 is declared


def test_429_is_a_status_class_of_its_own() -> None:
    metrics = GatewayMetrics()
    for status in (429, 429, 400, 404, 499, 200, 504):
        metrics.request_finished(route="chat", tenant="t", status=status, cache="none", seconds=0.1)
    got = samples(metrics.render()[0])

    classes = {
        dict(key)["status_class"]: value
        for (name, key), value in got.items()
        if name == "meltproof_gateway_requests_total"
    }
    assert classes == {"429": 2, "4xx": 3, "2xx": 1, "5xx": 1}


def test_upstream_attempts_are_counted_and_timed_by_model_and_outcome() -> None:
    metrics = GatewayMetrics(models=["gpt-4o"])
    metrics.upstream_attempt(model="gpt-4o", outcome="ok", seconds=0.3)
    metrics.upstream_attempt(model="gpt-4o", outcome="ok", seconds=2.0)
    metrics.upstream_attempt(model="gpt-4o", outcome="timeout", seconds=30.0)
    metrics.upstream_attempt(model="unknown", outcome="ok", seconds=0.01)
    got = samples(metrics.render()[0])

    p = "meltproof_gateway_upstream_attempt"
    ok = {"model": "gpt-4o", "outcome": "ok"}
    assert got[p + "s_total", labels(**ok)] == 2
    assert got[p + "_duration_seconds_count", labels(**ok)] == 2
    assert got[p + "_duration_seconds_sum", labels(**ok)] == pytest.approx(2.3)
    assert got[p + "_duration_seconds_bucket", labels(**ok, le="1.0")] == 1
    assert got[p + "_duration_seconds_bucket", labels(**ok, le="2.5")] == 2
    timeout = labels(model="gpt-4o", outcome="timeout", le="30.0")
    assert got[p + "_duration_seconds_bucket", timeout] == 1
    assert got[p + "_duration_seconds_count", labels(model=OTHER, outcome="ok")] == 1


def test_a_duration_on_a_bucket_bound_is_counted_in_that_bucket() -> None:
    metrics = GatewayMetrics()
    for seconds in (0.001, 1.0, 1.0000001, 60.0):
        metrics.request_finished(
            route="chat", tenant="acme", status=200, cache="miss", seconds=seconds
        )
    got = samples(metrics.render()[0])

    bucket = "meltproof_gateway_request_duration_seconds_bucket"
    counts = {
        le: got[bucket, labels(route="chat", cache="miss", le=le)]
        for le in ("0.001", "1.0", "1.5", "30.0", "+Inf")
    }
    assert counts == {"0.001": 1, "1.0": 2, "1.5": 3, "30.0": 3, "+Inf": 4}


def test_token_counts_below_zero_count_as_zero() -> None:
    metrics = GatewayMetrics(models=["gpt-4o"], prompt_versions=["v1"])
    usage = {"tenant": "acme", "model": "gpt-4o", "prompt_version": "v1"}
    metrics.usage(**usage, prompt_tokens=10, completion_tokens=5, cost_usd=0.01)
    metrics.usage(**usage, prompt_tokens=-10, completion_tokens=-5, cost_usd=-0.01)
    got = samples(metrics.render()[0])

    assert got["meltproof_gateway_tokens_total", labels(**usage, direction="in")] == 10
    assert got["meltproof_gateway_tokens_total", labels(**usage, direction="out")] == 5
    assert got["meltproof_gateway_cost_usd_total", labels(**usage)] == pytest.approx(0.01)


def test_children_are_updated_through_their_own_values() -> None:
    registry = CollectorRegistry()
    counter = Counter("c", "c", ("route",), registry=registry)
    histogram = Histogram("h", "h", ("route",), buckets=(0.1, 1.0), registry=registry)

    assert _Values(counter)("chat") is counter.labels("chat")._value
    _Observations(histogram).observe(("chat",), 0.5)
    _Observations(histogram).observe(("chat",), 0.1)
    got = samples(generate_latest(registry))

    assert got["h_bucket", labels(route="chat", le="0.1")] == 1
    assert got["h_bucket", labels(route="chat", le="1.0")] == 2
    assert got["h_sum", labels(route="chat")] == pytest.approx(0.6)


class _PublicOnly:
    """A metric family whose children have only prometheus_client's public methods, as a
    release that keeps its values elsewhere would give."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...], float]] = []

    def labels(self, *values: str) -> _PublicChild:
        return _PublicChild(self.calls, values)


class _PublicChild:
    def __init__(self, calls: list[tuple[str, tuple[str, ...], float]], values: tuple[str, ...]):
        self._calls, self._values = calls, values

    def inc(self, amount: float = 1) -> None:
        self._calls.append(("inc", self._values, amount))

    def set(self, value: float) -> None:
        self._calls.append(("set", self._values, value))

    def observe(self, amount: float) -> None:
        self._calls.append(("observe", self._values, amount))


def test_children_without_the_values_expected_are_updated_through_their_methods() -> None:
    family = _PublicOnly()

    _Values(family)("chat").inc(2)  # type: ignore[arg-type]
    _Values(family)("breaker").set(1.0)  # type: ignore[arg-type]
    _Observations(family).observe(("chat", "miss"), 0.25)  # type: ignore[arg-type]

    assert family.calls == [
        ("inc", ("chat",), 2),
        ("set", ("breaker",), 1.0),
        ("observe", ("chat", "miss"), 0.25),
    ]


def test_time_to_first_token_is_a_histogram_by_model() -> None:
    metrics = GatewayMetrics(models=["gpt-4o", "gpt-4o-mini"])
    metrics.first_token(model="gpt-4o", seconds=0.2)
    metrics.first_token(model="gpt-4o", seconds=1.2)
    metrics.first_token(model="gpt-4o-mini", seconds=0.05)
    metrics.first_token(model="made-up", seconds=0.05)
    got = samples(metrics.render()[0])

    p = "meltproof_gateway_time_to_first_token_seconds"
    assert got[p + "_count", labels(model="gpt-4o")] == 2
    assert got[p + "_bucket", labels(model="gpt-4o", le="0.25")] == 1
    assert got[p + "_bucket", labels(model="gpt-4o", le="1.0")] == 1
    assert got[p + "_bucket", labels(model="gpt-4o", le="1.5")] == 2
    assert got[p + "_count", labels(model="gpt-4o-mini")] == 1
    assert got[p + "_count", labels(model=OTHER)] == 1


def test_every_histogram_has_the_slo_threshold_as_a_bucket_boundary() -> None:
    """The latency SLO (1 s) and the default deadline (1.5 s) can be read off every histogram."""
    metrics = GatewayMetrics(models=["m"])
    metrics.request_finished(route="chat", tenant="t", status=200, cache="none", seconds=0.1)
    metrics.upstream_attempt(model="m", outcome="ok", seconds=0.1)
    metrics.first_token(model="m", seconds=0.1)
    families = text_string_to_metric_families(metrics.render()[0].decode())
    bounds = {
        family.name: {s.labels["le"] for s in family.samples if "le" in s.labels}
        for family in families
        if family.type == "histogram"
    }
    assert set(bounds) == {
        "meltproof_gateway_request_duration_seconds",
        "meltproof_gateway_upstream_attempt_duration_seconds",
        "meltproof_gateway_time_to_first_token_seconds",
    }
    for name, les in bounds.items():
        assert {"1.0", "1.5"} <= les, name


def test_requests_in_flight_go_up_and_down_per_route() -> None:
    metrics = GatewayMetrics()
    chat, embeddings = metrics.in_flight("chat"), metrics.in_flight("embeddings")
    chat.inc(1)
    chat.inc(1)
    embeddings.inc(1)
    embeddings.inc(-1)
    got = samples(metrics.render()[0])

    assert got["meltproof_gateway_requests_in_flight", labels(route="chat")] == 2
    assert got["meltproof_gateway_requests_in_flight", labels(route="embeddings")] == 0


def test_auth_failures_are_counted_by_reason() -> None:
    metrics = GatewayMetrics()
    metrics.auth_failure(reason="missing_api_key")
    metrics.auth_failure(reason="invalid_api_key")
    metrics.auth_failure(reason="invalid_api_key")
    got = samples(metrics.render()[0])

    name = "meltproof_gateway_auth_failures_total"
    assert got[name, labels(reason="missing_api_key")] == 1
    assert got[name, labels(reason="invalid_api_key")] == 2


def test_budget_plans_are_gauges_per_tenant() -> None:
    metrics = GatewayMetrics()
    metrics.budget_plan(tenant="acme", limit_tokens=5_000_000, period_s=2_592_000.0)
    got = samples(metrics.render()[0])

    assert got["meltproof_gateway_budget_limit_tokens", labels(tenant="acme")] == 5_000_000
    assert got["meltproof_gateway_budget_period_seconds", labels(tenant="acme")] == 2_592_000


def test_build_info_names_the_version_and_python() -> None:
    got = samples(GatewayMetrics().render()[0])

    [(key, value)] = [(k, v) for k, v in got.items() if k[0] == "meltproof_gateway_build_info"]
    info = dict(key[1])
    assert value == 1
    assert info["version"] == importlib.metadata.version("meltproof")
    assert info["python_version"] == platform.python_version()


def test_process_metrics_of_this_process_carry_its_pid() -> None:
    got = samples(GatewayMetrics().render()[0])

    pid = labels(pid=str(os.getpid()))
    assert got["process_cpu_seconds_total", pid] > 0
    assert got["process_resident_memory_bytes", pid] > 0
    assert got["process_start_time_seconds", pid] > 0
    assert got["process_open_fds", pid] > 0


LIVE_WORKER = """
import os, sys
from reference_impl.metrics import GatewayMetrics
metrics = GatewayMetrics()
metrics.budget_plan(tenant="acme", limit_tokens=1000, period_s=60.0)
gauge = metrics.in_flight("chat")
for _ in range({in_flight}):
    gauge.inc(1)
print(os.getpid(), flush=True)
sys.stdin.read()  # alive until the test closes stdin
"""


def test_multiprocess_gauges_add_up_live_workers_and_report_plans_once(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(LIVE_WORKER.format(in_flight=count))],
            env=env,
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for count in (2, 3)
    ]
    try:
        pids = [int(worker.stdout.readline()) for worker in workers]  # type: ignore[union-attr]
        got = samples(run_python(SCRAPER, tmp_path))
        in_flight = ("meltproof_gateway_requests_in_flight", labels(route="chat"))
        assert got[in_flight] == 5
        assert got["meltproof_gateway_budget_limit_tokens", labels(tenant="acme")] == 1000
        assert got["meltproof_gateway_budget_period_seconds", labels(tenant="acme")] == 60
        builds = [key for key in got if key[0] == "meltproof_gateway_build_info"]
        assert len(builds) == 1
        reported = {dict(key)["pid"] for name, key in got if name == "process_cpu_seconds_total"}
        assert {str(pid) for pid in pids} <= reported  # and the scraping process's own

        workers[0].stdin.close()  # type: ignore[union-attr]
        workers[0].wait(timeout=30)
        multiprocess.mark_process_dead(pids[0], str(tmp_path))  # type: ignore[no-untyped-call]
        got = samples(run_python(SCRAPER, tmp_path))
        assert got[in_flight] == 3
        reported = {dict(key)["pid"] for name, key in got if name == "process_cpu_seconds_total"}
        assert str(pids[0]) not in reported
        assert str(pids[1]) in reported
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(timeout=30)
            for pipe in (worker.stdin, worker.stdout):
                assert pipe is not None
                pipe.close()


def test_a_dead_worker_without_bookkeeping_has_no_process_metrics(tmp_path: Path) -> None:
    """A worker that exited (its files still there) is not reported as a process."""
    run_python(WORKER.format(requests=1, tokens=1, state="open"), tmp_path)
    got = samples(run_python(SCRAPER, tmp_path))
    reported = {dict(key)["pid"] for name, key in got if name == "process_cpu_seconds_total"}
    assert len(reported) == 1  # the scraping process alone
