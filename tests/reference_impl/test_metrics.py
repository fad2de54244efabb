"""GatewayMetrics: samples after events, separate registries, multi-worker aggregation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reference_impl.metrics import OTHER, GatewayMetrics


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
    metrics.upstream_attempt(model="gpt-4o", outcome="http_429")
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
        metrics.upstream_attempt(model=f"m{index}", outcome="ok")
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
