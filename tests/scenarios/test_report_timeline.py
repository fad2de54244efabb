"""The report's timeline: provider calls per second by model and status for any target, beside
the 429 and degraded answers clients saw, in the document, the Markdown and the HTML."""

import re
from dataclasses import replace

import pytest
from op_support import answered, table_of
from run_support import counters, fault, stored_run
from timeline_support import series, with_timeline

from benchmarks.op import ErrorKind, Outcome
from scenarios.report import build_report, render_html, render_markdown
from scenarios.report.timeline_charts import status_class
from scenarios.report.timeline_tracks import Track
from scenarios.stored_run import StoredRun


FALLBACK = with_timeline(
    series([2, 2, 2, 2, 0, 0, 0, 2, 2, 2], model="gpt-4o", tenant="acme"),
    series([1, 1, 1, 1, 0, 0, 0, 1, 1, 1], model="gpt-4o", tenant="globex"),
    series([0, 0, 0, 0, 5, 5, 5], model="gpt-4o", tenant="acme", status="429"),
    series([0, 0, 0, 0, 3, 3, 3], model="gpt-4o-mini", tenant="acme"),
    origin_unix_s=-0.25,
    tenants={"acme": counters(requests=30), "globex": counters(requests=7)},
    total=counters(requests=37),
)
"""The provider's side of a brownout from 4 to 7 s: gpt-4o answers 429, the gateway falls
back to gpt-4o-mini."""


def rate_limited(t: float) -> dict:
    return answered(t, 0.1, status=429, outcome=Outcome.FAIL, error=ErrorKind.HTTP)


def brownout_run(**options) -> StoredRun:
    """Ten seconds of answers, two 429s at 4.2 s and 5.5 s, a degraded answer at 6.1 s."""
    rows = [answered(float(t), 0.1) for t in range(10)]
    rows += [rate_limited(4.2), rate_limited(5.5), answered(6.1, 0.1, degraded=True)]
    return stored_run(table_of(rows), faults=(fault(4.0, 7.0),), provider=FALLBACK, **options)


def test_the_document_sums_the_providers_calls_over_tenants_on_the_loads_time_axis() -> None:
    provider = build_report(brownout_run(), []).timeline.provider
    assert provider is not None
    assert (provider.bucket_s, provider.start_s) == (1.0, -0.25)
    assert [(s.model, s.status, s.counts) for s in provider.series] == [
        ("gpt-4o", "200", (3, 3, 3, 3, 0, 0, 0, 3, 3, 3)),
        ("gpt-4o", "429", (0, 0, 0, 0, 5, 5, 5, 0, 0, 0)),
        ("gpt-4o-mini", "200", (0, 0, 0, 0, 3, 3, 3, 0, 0, 0)),
    ]
    assert {s.endpoint for s in provider.series} == {"chat"}


def test_the_document_counts_the_clients_429s_and_degraded_answers_per_second() -> None:
    clients = build_report(brownout_run(), []).timeline.clients
    assert clients is not None
    assert clients.rate_limited == (0, 0, 0, 0, 1, 1, 0, 0, 0, 0)
    assert clients.degraded == (0, 0, 0, 0, 0, 0, 1, 0, 0, 0)


def test_a_target_without_a_timeline_or_degraded_flags_has_neither() -> None:
    foreign = {"name": "foreign", "target": {"url": "http://127.0.0.1:1"}}
    run = stored_run(table_of([answered(0.5, 0.1)]), scenario=foreign)
    timeline = build_report(run, []).timeline
    assert timeline.provider is None
    assert timeline.clients is not None
    assert timeline.clients.degraded is None
    markdown = render_markdown(build_report(run, []))
    assert "| provider | — | — | — | — | No provider timeline" in markdown
    assert "| clients: degraded answers | — | — | — | — | The target flags no answer" in markdown
    page = render_html(build_report(run, []))
    assert "The target flags no answer degraded" in page


def test_the_report_has_provider_counts_per_endpoint_kind_and_the_share_served_without_a_call():
    stats = with_timeline(series([2]), series([1], endpoint="embeddings", model="embed"))
    stats["endpoints"] = {
        "chat": counters(requests=2),
        "embeddings": counters(requests=2, status={"200": 1, "503": 1}),
    }
    run = stored_run(table_of([answered(float(t), 0.1) for t in range(5)]), provider=stats)
    report = build_report(run, [])
    assert report.provider is not None
    endpoints = {row.name: row for row in report.provider.endpoints}
    assert (endpoints["chat"].requests, endpoints["embeddings"].errors) == (2, 1)
    assert report.upstream.served_without_call == pytest.approx(3 / 5)
    markdown = render_markdown(report)
    assert "| embeddings | 2 | 1 | 0 | 0 | 0 |" in markdown
    assert "| OK answers served without a provider call (at least) | 60.0% |" in markdown


def test_markdown_shows_each_series_peak_rates_outside_and_during_faults_and_shape() -> None:
    markdown = render_markdown(build_report(brownout_run(), []))
    assert (
        "| Series | Total | Peak per s | Per s outside faults | Per s during faults "
        "| Over the run (0-10 s) |"
    ) in markdown
    assert "| provider: gpt-4o 200 | 21 | 3 at 0 s | 3 | 0 | ████···███ |" in markdown
    assert "| provider: gpt-4o 429 | 15 | 5 at 4 s | 0 | 5 | ····███··· |" in markdown
    assert "| provider: gpt-4o-mini 200 | 9 | 3 at 4 s | 0 | 3 | ····███··· |" in markdown
    assert "| clients: 429 answers | 2 | 1 at 4 s | 0 | 0.6667 | ····██···· |" in markdown


def provider_chart(run: StoredRun) -> str:
    page = render_html(build_report(run, []))
    return next(
        chart
        for chart in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)
        if "Provider calls per second" in chart
    )


def test_the_provider_chart_colours_lines_by_model_and_dashes_them_by_status() -> None:
    chart = provider_chart(brownout_run())
    assert re.findall(r'<polyline class="line ([^"]*)"', chart) == [
        "c0 s-ok",
        "c0 s-429",
        "c1 s-ok",
    ]
    assert re.findall(r'<rect class="(fault [^"]*)"', chart) == ["fault fault-latency"]
    legend = re.findall(r'<text class="legend"[^>]*>([^<]*)</text>', chart)
    assert legend == ["gpt-4o 200", "gpt-4o 429", "gpt-4o-mini 200"]


def test_the_client_chart_shades_faults_beneath_429s_and_degraded_answers() -> None:
    page = render_html(build_report(brownout_run(), []))
    (chart,) = [
        c for c in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL) if "seen by clients" in c
    ]
    assert re.findall(r'<rect class="(fault [^"]*)"', chart) == ["fault fault-latency"]
    legend = re.findall(r'<text class="legend"[^>]*>([^<]*)</text>', chart)
    assert legend == ["429 answers", "degraded answers"]


def test_calls_refused_before_their_model_was_known_are_named_by_endpoint() -> None:
    stats = with_timeline(series([1], model="-", status="400"))
    chart = provider_chart(replace(brownout_run(), provider=stats))
    assert ">chat (no model) 400</text>" in chart
    assert '<polyline class="line c0 s-other"' in chart


@pytest.mark.parametrize(
    ("status", "css"),
    [("200", "s-ok"), ("429", "s-429"), ("503", "s-5xx"), ("404", "s-other"), ("499", "s-other")],
)
def test_status_classes(status: str, css: str) -> None:
    assert status_class(status) == css


def test_a_track_keeps_the_buckets_on_the_time_axis_and_scales_its_sparkline() -> None:
    track = Track("m 200", "m", "200", start_s=-1.0, bucket_s=1.0, counts=(4, 8, 1))
    assert track.buckets(3.0) == [(0.5, 8), (1.5, 1), (2.5, 0)]
    assert track.sparkline(3.0, 3) == "█▂·"
    assert track.per_s([(1.0, 3.0)], 3.0, inside=True) == 0.5
    assert track.per_s([], 3.0, inside=True) is None
    assert track.peak() == (8, 0.0)
