"""The run record: written and read by one type, versioned, older records still read."""

import pytest

from faults import FaultWindow
from scenarios.run_record import RUN_RECORD_VERSION, RunRecord, RunRecordError


def a_record() -> RunRecord:
    return RunRecord(
        scenario={"name": "brownout"},
        faults=(
            FaultWindow("slow", "latency", "provider", 1.0, 1.2, 3.4, params={"latency_ms": 50}),
        ),
        provider={"total": {"calls": 3}},
        prices={"gpt-4o-mini": {"input_per_mtok_usd": 0.15}},
        steady_state={"before": {"verdict": "pass"}},
        gateway={"profile": "hardened", "workers": 1},
        target_cpu_s=1.5,
        services={"redis": "redis 7.0.15"},
        backend="containers",
        images={"redis": {"name": "redis:7.0.15", "id": "sha256:9a8e"}},
        harness={"shortfall": None},
    )


def test_a_record_reads_back_as_it_was_written() -> None:
    written = a_record().to_dict()
    assert written["version"] == RUN_RECORD_VERSION
    assert RunRecord.from_dict(written) == a_record()


def test_a_record_from_before_versions_reads_as_version_one_on_the_embedded_backend() -> None:
    old = {
        k: v for k, v in a_record().to_dict().items() if k not in {"version", "backend", "images"}
    }
    record = RunRecord.from_dict(old)
    assert record.backend == "embedded"
    assert record.images == {}
    assert record.faults == a_record().faults


def test_a_record_of_a_newer_version_is_refused_naming_both() -> None:
    newer = {**a_record().to_dict(), "version": RUN_RECORD_VERSION + 1}
    with pytest.raises(
        RunRecordError, match=f"version {RUN_RECORD_VERSION + 1}.*1 to {RUN_RECORD_VERSION}"
    ):
        RunRecord.from_dict(newer)
