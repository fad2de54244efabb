"""The SLO rules and the dashboard read metrics a real gateway exports, with the labels it sets.

A gateway on the stack answers a few requests (cache miss and hit, embeddings, a structured
answer, a stream, the model list, a missing key, a tenant refused at its budget ceiling, a
failing model that opens its breaker and falls back, a degraded answer); its ``/metrics`` then
passes ``promtool check metrics`` and must name every metric, label and histogram bucket the
rules and the dashboard use, each with samples.
"""

from __future__ import annotations

import re

import pytest
from gateway_support import (
    KEY,
    OTHER_KEY,
    auth,
    chat,
    fast_provider,
    gateway_config,
    unique_messages,
)
from prometheus_client.parser import text_string_to_metric_families
from promtool_support import (
    PREFIX,
    PROCESS_PREFIX,
    concrete,
    dashboard_queries,
    find_promtool,
    grouping_labels,
    load_dashboard,
    load_rules,
    matchers,
    promtool,
    rule_queries,
    series_names,
)
from scrape_support import METRICS_TOKEN, scrape_auth

from reference_impl.app import create_app


SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}
TARGET_LABELS = {"job", "instance"}  # added by Prometheus at scrape time


@pytest.fixture
async def scraped(stack, aiohttp_client) -> str:
    """``/metrics`` of a gateway after requests that touch every metric the rules use."""
    config = gateway_config(
        stack,
        tenants=[
            {"name": "one", "api_key": KEY, "budget": {"limit_tokens": 10}},
            {"name": "two", "api_key": OTHER_KEY},
        ],
        breaker={"min_calls": 2, "window_s": 30, "open_s": 30},
        metrics_token=METRICS_TOKEN,
        redis_timeout_s=5.0,  # the budget must count: no failing open on a busy machine
    )
    fast_provider(stack)
    client = await aiohttp_client(create_app(config))
    two = auth(OTHER_KEY)

    async def post(path: str, body: dict[str, object], headers: dict[str, str]) -> int:
        response = await client.post(path, json=body, headers=headers)
        await response.read()
        return response.status

    cached = chat(unique_messages())
    schema = {"type": "object", "properties": {"summary": {"type": "string"}}}
    statuses = [
        await post("/v1/chat/completions", cached, two),
        await post("/v1/chat/completions", cached, two),
        await post("/v1/embeddings", {"model": "text-embedding-3-small", "input": ["a"]}, two),
        await post(
            "/v1/chat/completions",
            chat(
                unique_messages(),
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "s", "schema": schema},
                },
            ),
            two,
        ),
        await post("/v1/chat/completions", chat(unique_messages(), stream=True), two),
        await post("/v1/chat/completions", chat(unique_messages()), {}),
        await post("/v1/chat/completions", chat(unique_messages()), auth(KEY)),
        await post("/v1/chat/completions", chat(unique_messages()), auth(KEY)),
    ]
    assert statuses == [200, 200, 200, 200, 200, 401, 200, 429]
    models = await client.get("/v1/models", headers=two)
    assert models.status == 200
    assert {model["id"] for model in (await models.json())["data"]} >= {"gpt-4o", "local-llm"}
    stack.provider.set_fault({"error_rates": {503: 1.0}}, model="gpt-4o")
    for _ in range(3):
        body = {"model": "gpt-4o", "messages": unique_messages(), "max_tokens": 5}
        assert await post("/v1/chat/completions", body, two) == 200
    stack.provider.set_fault({"error_rates": {503: 1.0}})
    assert await post("/v1/chat/completions", chat(unique_messages()), two) == 200
    response = await client.get("/metrics", headers=scrape_auth())
    assert response.status == 200
    return await response.text()


def _queries() -> dict[str, str]:
    rules = {f"rule {name}": expr for name, expr in rule_queries(load_rules()).items()}
    dashboard = {
        f"dashboard {name}": concrete(expr)
        for name, expr in dashboard_queries(load_dashboard()).items()
    }
    return rules | dashboard


class Exposition:
    """What a scrape exports: series names (to their family), label names, the label values
    seen, and each histogram's buckets."""

    def __init__(self, text: str) -> None:
        self.families: dict[str, str] = {}
        self.labels: dict[str, set[str]] = {}
        self.values: dict[str, dict[str, set[str]]] = {}
        for family in text_string_to_metric_families(text):
            if not family.name.startswith((PREFIX, PROCESS_PREFIX)):
                continue
            for suffix in SUFFIXES.get(family.type, ("",)):
                self.families[family.name + suffix] = family.name
            self.labels[family.name] = {label for s in family.samples for label in s.labels}
            self.values[family.name] = {
                label: {s.labels[label] for s in family.samples if label in s.labels}
                for label in self.labels[family.name]
            }

    def labels_of(self, name: str) -> set[str]:
        """Label names of a series (by its name), as seen in the samples."""
        return self.labels[self.families[name]]

    def values_of(self, name: str, label: str) -> set[str]:
        """The values ``label`` takes in the samples of a series (by its name)."""
        return self.values[self.families[name]].get(label, set())


def _le_exists(exposition: Exposition, metric: str, operator: str, value: str) -> bool:
    buckets = exposition.values_of(metric, "le")
    if operator == "=~":
        return any(re.fullmatch(value, le) for le in buckets)
    return value in buckets


def test_the_rules_and_the_dashboard_match_the_gateways_metrics(scraped):
    checked = promtool(find_promtool(), "check", "metrics", stdin=scraped)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    exposition = Exposition(scraped)
    queries = _queries()
    read = {
        name: where
        for where, expr in queries.items()
        for name in series_names(expr)
        if ":" not in name
    }
    missing = {name: where for name, where in read.items() if name not in exposition.families}
    assert not missing, f"not exported by the gateway: {missing}"
    unsampled = {name for name in read if not exposition.labels_of(name)}
    assert not unsampled, f"the requests above left these without samples: {unsampled}"

    for where, expr in queries.items():
        for metric, label, operator, value in matchers(expr):
            known = exposition.labels_of(metric) | TARGET_LABELS
            assert label in known, f"{where}: {metric} has no label {label}"
            if label == "le":
                assert _le_exists(exposition, metric, operator, value), f"{where}: no le{value}"
        names = series_names(expr)
        if any(":" in name for name in names):
            continue  # recorded series carry the labels their rules keep
        known = set().union(*(exposition.labels_of(name) for name in names)) | TARGET_LABELS
        assert grouping_labels(expr) <= known, f"{where}: groups by labels its metrics lack"


def test_the_gateway_reports_its_429s_missing_keys_and_stream(scraped):
    """429 is a status class of its own (the availability SLI reads it), the refused key is
    counted by its reason, and the stream reported its time to first token."""
    exposition = Exposition(scraped)
    requests = PREFIX + "requests_total"
    assert {"2xx", "429"} <= exposition.values_of(requests, "status_class")
    assert "4xx" not in exposition.values_of(requests, "status_class")
    auth_failures = PREFIX + "auth_failures_total"
    assert exposition.values_of(auth_failures, "reason") == {"missing_api_key"}
    ttft = PREFIX + "time_to_first_token_seconds_count"
    assert "gpt-4o-mini" in exposition.values_of(ttft, "model")
    assert exposition.values_of(PREFIX + "budget_limit_tokens", "tenant") == {"one"}
