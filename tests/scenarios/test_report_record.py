"""The report as a versioned record: its JSON form reads back to the same report, a report of
an older schema version reads with what that version lacked left empty, and one of a version
this meltproof does not know is refused, naming both."""

import json
from dataclasses import replace
from typing import Any

import pytest
from op_support import answered, table_of
from run_support import stored_run
from test_report_document import sample_results, sample_run
from test_report_slowest import traced_run
from test_report_timeline import brownout_run

from scenarios.report import (
    REPORT_SCHEMA_VERSION,
    Report,
    ReportSchemaError,
    build_report,
    render_html,
    render_markdown,
)
from scenarios.stored_run import StoredRun


def foreign_run() -> StoredRun:
    """A target other than ours, with generated configuration and no provider."""
    run = stored_run(table_of([answered(0.5, 0.1)]), scenario={"name": "foreign"})
    target = {"kind": "litellm", "name": "LiteLLM", "config": {"config.yaml": "a: 1\n"}}
    return replace(run, target=target, gateway=None)


RUNS = {
    "brownout with checks": lambda: (sample_run(), sample_results()),
    "provider timeline": lambda: (brownout_run(), []),
    "traced": lambda: (traced_run(), []),
    "foreign target": lambda: (foreign_run(), []),
    "no requests": lambda: (stored_run(table_of([])), []),
}


def serialised(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=1, allow_nan=False)


@pytest.mark.parametrize("name", RUNS)
def test_a_report_reads_back_from_its_json_equal_and_writes_the_same_json(name: str) -> None:
    report = build_report(*RUNS[name]())
    text = serialised(report)
    again = Report.from_dict(json.loads(text))
    assert again == report
    assert serialised(again) == text
    assert render_markdown(again) == render_markdown(report)
    assert render_html(again) == render_html(report)


def older(document: dict[str, Any], version: int) -> dict[str, Any]:
    """``document`` as a report of ``version`` wrote it: without what later versions added."""
    old = json.loads(json.dumps(document)) | {"schema_version": version}
    del old["slowest_requests"]
    if version == 1:
        del old["timeline"], old["run"]["target"], old["upstream"]["served_without_call"]
        del old["provider"]["endpoints"]
    return old


def test_a_version_2_report_reads_as_not_traced() -> None:
    current = build_report(traced_run(), [])
    report = Report.from_dict(older(current.to_dict(), 2))
    assert report.slowest_requests is None
    assert report == replace(current, slowest_requests=None)
    assert "Slowest requests" not in render_markdown(report)


def test_a_version_1_report_reads_without_timeline_target_and_provider_endpoints() -> None:
    current = build_report(brownout_run(), sample_results())
    report = Report.from_dict(older(current.to_dict(), 1))
    assert (report.timeline.provider, report.timeline.clients) == (None, None)
    assert report.run.target is None
    assert report.upstream.served_without_call is None
    assert report.provider is not None
    assert report.provider.endpoints == ()
    assert report.provider.tenants == current.provider.tenants
    assert report.checks == current.checks
    assert "No provider timeline" in render_markdown(report)
    document = report.to_dict()
    assert document["schema_version"] == REPORT_SCHEMA_VERSION
    assert Report.from_dict(document) == report


@pytest.mark.parametrize("version", [0, REPORT_SCHEMA_VERSION + 1, "3", None])
def test_a_report_of_an_unknown_version_is_refused_naming_it_and_the_ones_read(
    version: object,
) -> None:
    document = build_report(sample_run(), []).to_dict() | {"schema_version": version}
    with pytest.raises(ReportSchemaError) as raised:
        Report.from_dict(document)
    assert str(raised.value).startswith(
        f"a report of schema version {version!r}; this meltproof reads versions 1 to "
        f"{REPORT_SCHEMA_VERSION}"
    )
