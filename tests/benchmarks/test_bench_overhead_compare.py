"""Two gateway_overhead reports side by side: CPU per request, ratios and capacities."""

import json

import pytest

from benchmarks.bench.gateway_overhead.parameters import OverheadParameters
from benchmarks.bench.gateway_overhead.report import report
from benchmarks.bench.gateway_overhead.steps import Step, TargetOutcome
from benchmarks.bench.overhead_compare import (
    capacities,
    compare,
    cpu_us,
    load_report,
    main,
    round_medians,
    rows,
)


def _outcome(name, cpu_s, *, rates=(250, 500), processes=None):
    steps = tuple(
        Step(
            rate_rps=rate, duration_s=10.0, achieved_rps=rate, requests=10 * rate, errors=0,
            p50_s=0.02, p99_s=0.025, shortfall=None, cpu_s=cpu_s * rate / 250,
            peak_rss_bytes=2**20, processes_cpu_s=processes or {},
        )
        for rate in rates
    )  # fmt: skip
    return TargetOutcome(name, steps)


def _report(miss_cpu_s, *, processes=None, rounds=3):
    """A report whose pass-through spends 1 s per 2,500 requests (400 µs each), with
    ``rounds`` alternated rounds of the same figures."""
    outcomes = {
        name: _outcome(name, cpu_s, processes=processes)
        for name, cpu_s in (
            ("direct", 1.0), ("passthrough", 1.0), ("gateway_miss", miss_cpu_s),
            ("gateway_hit", 0.5), ("gateway_miss_2w", miss_cpu_s), ("litellm", 20.0),
        )
    }  # fmt: skip
    alternated = tuple(
        {name: outcomes[name] for name in ("passthrough", "gateway_miss", "gateway_hit")}
        for _ in range(rounds)
    )
    built = report(OverheadParameters.for_run(quick=True), outcomes, alternated, 0.05)
    return json.loads(built.to_json("gateway_overhead", started_at=0, elapsed_s=1, load_average={}))


def test_cpu_per_request_is_read_per_process_and_from_older_reports_too():
    step = {"requests": 2500, "errors": 0, "cpu_s": 1.0, "redis_cpu_s": 0.25}
    assert cpu_us(step) == 400
    assert cpu_us(step, "redis") == 100
    assert cpu_us(step, "generator") is None
    assert cpu_us({**step, "processes_cpu_s": {"generator": 0.5}}, "generator") == 200


def test_each_rate_shows_before_after_the_change_and_the_ratio_to_the_passthrough():
    table = rows(_report(3.0), _report(1.5, processes={"generator": 2.0, "provider": 1.0}))
    miss = next(row for row in table if row[:2] == ["gateway_miss", "250"])
    assert miss[2:8] == ["1,200", "600", "-50%", "3.00", "1.50", "800/400/-"]


def test_capacities_before_and_after_and_the_checks_of_both_runs():
    before, after = _report(3.0), _report(1.5)
    assert ["gateway_miss", "500", "500"] in capacities(before, after)
    text = compare(before, after)
    assert "Checks before" in text
    assert "Checks after" in text


def test_the_rounds_medians_before_and_after_and_a_dash_for_a_report_without_rounds():
    before, after = _report(3.0, rounds=0), _report(1.5)
    table = round_medians(before, after)
    assert ["gateway_miss", "250", "-", "1.50 (1.50, 1.50, 1.50)"] in table
    assert ["gateway_hit", "500", "-", "0.50 (0.50, 0.50, 0.50)"] in table
    assert "CPU per request in the alternated rounds" in compare(before, after)


def test_the_command_compares_two_reports_and_refuses_other_files(tmp_path, capsys):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(_report(3.0)))
    after.write_text(json.dumps(_report(1.5)))
    assert main([str(before), str(after)]) == 0
    assert "gateway_miss" in capsys.readouterr().out
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"benchmark": "retrieval"}))
    with pytest.raises(ValueError, match="not a gateway_overhead report"):
        load_report(other)
    with pytest.raises(SystemExit):
        main([str(before)])
