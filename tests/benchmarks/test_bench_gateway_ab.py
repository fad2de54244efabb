"""Gateways of several source trees side by side: the rounds' medians and the command line."""

import json
from pathlib import Path

import pytest

from benchmarks.bench.gateway_ab import (
    PASSTHROUGH,
    cpu_by_round,
    figures,
    main,
    median_ratio,
    source_tree_problem,
    summary_rows,
    tree_labels,
)
from benchmarks.bench.gateway_overhead.steal import Stolen
from benchmarks.bench.gateway_overhead.steps import Step, TargetOutcome


REPO = Path(__file__).resolve().parents[2]


def _outcome(name, cpu_us_by_rate, *, errors=0, stolen_s=None):
    """A target's steps of 1,000 requests costing ``cpu_us_by_rate[rate]`` µs each."""
    steps = tuple(
        Step(
            rate_rps=rate, duration_s=4.0, achieved_rps=rate, requests=1000, errors=errors,
            p50_s=0.02, p99_s=0.025, shortfall=None, cpu_s=cpu_us * 1000 / 1e6,
            peak_rss_bytes=2**20,
            stolen=None if stolen_s is None else Stolen(stolen_s, 0.0),
        )
        for rate, cpu_us in cpu_us_by_rate.items()
    )  # fmt: skip
    return TargetOutcome(name, steps)


def _rounds(*cpu_us):
    """Rounds of (pass-through, first tree, second tree) CPU µs per request, at both rates."""
    names = (PASSTHROUGH, "1:base", "2:new")
    return tuple(
        {name: _outcome(name, {250: cpu, 500: cpu}) for name, cpu in zip(names, one, strict=True)}
        for one in cpu_us
    )


def test_ratios_are_the_median_of_each_rounds_ratio_not_a_ratio_of_medians():
    rounds = _rounds((500, 1000, 900), (1000, 2000, 1900), (600, 1100, 1150))
    # each round to the pass-through: 1.8, 1.9, 1.917 -> 1.9; to the base: 0.9, 0.95, 1.045
    assert median_ratio(rounds, "2:new", PASSTHROUGH, 250) == pytest.approx(1.9)
    assert median_ratio(rounds, "2:new", "1:base", 250) == pytest.approx(0.95)
    # (the ratio of the medians would read 1,150 / 600 = 1.92 and 1,150 / 1,100 = 1.05)


def test_the_table_shows_each_round_the_median_and_both_ratios():
    rounds = _rounds((500, 1000, 900), (1000, 2000, 1900), (600, 1100, 1150))
    table = summary_rows(rounds, ["1:base", "2:new"])

    assert table[0] == ["250", PASSTHROUGH, "500 1,000 600", "600", "1.00", "0.50"]
    assert table[2] == ["250", "2:new", "900 1,900 1,150", "1,150", "1.90", "0.95"]
    assert [row[0] for row in table] == ["250"] * 3 + ["500"] * 3


def test_a_failed_step_counts_in_no_median_and_shows_as_a_dash():
    rounds = list(_rounds((500, 1000, 900), (500, 1000, 800), (500, 1000, 700)))
    rounds[2] = {**rounds[2], "2:new": _outcome("2:new", {250: 100, 500: 100}, errors=500)}

    assert cpu_by_round(rounds, "2:new", 250) == [900, 800, None]
    assert median_ratio(rounds, "2:new", "1:base", 250) == pytest.approx(0.85)
    assert summary_rows(rounds, ["1:base", "2:new"])[2][2] == "900 800 -"


def test_a_step_the_hypervisor_disturbed_counts_in_no_median():
    rounds = list(_rounds((500, 1000, 900), (500, 1000, 800), (500, 1000, 700)))
    robbed = _outcome(PASSTHROUGH, {250: 900, 500: 500}, stolen_s=0.2)  # 4 s: over 0.08 s
    rounds[0] = {**rounds[0], PASSTHROUGH: robbed}

    assert cpu_by_round(rounds, PASSTHROUGH, 250) == [None, 500, 500]
    assert figures(rounds, ["1:base", "2:new"])[PASSTHROUGH]["250"]["disturbed"] == [
        True, False, False,
    ]  # fmt: skip
    assert median_ratio(rounds, "2:new", PASSTHROUGH, 250) == pytest.approx(1.5)


def test_trees_are_labelled_by_position_and_directory(tmp_path):
    assert tree_labels([tmp_path / "base", tmp_path / "main"]) == ["1:base", "2:main"]


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--rounds", "0"], "--rounds must be at least 1"), (["--seconds", "0.5"], "--seconds must")],
)
def test_bad_options_are_refused_by_name(tmp_path, capsys, options, message):
    with pytest.raises(SystemExit) as stopped:
        main([str(REPO), *options, "--out", str(tmp_path)])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_a_directory_without_the_gateway_is_refused_by_name(tmp_path, capsys):
    assert source_tree_problem(REPO) is None
    assert "no such directory" in source_tree_problem(tmp_path / "missing")
    with pytest.raises(SystemExit) as stopped:
        main([str(REPO), str(tmp_path), "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert f"{tmp_path}: not a source tree (it holds no reference_impl package)" in (
        capsys.readouterr().err
    )


@pytest.mark.long
def test_a_round_of_this_tree_runs_beside_the_passthrough(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(REPO), "--seconds", "1", "--rounds", "1", "--out", str(out)]) == 0

    document = json.loads((out / "gateway_ab.json").read_text())
    label = f"1:{REPO.name}"
    assert document["trees"] == {label: str(REPO)}
    assert document["kind"] == "miss"
    assert document["rounds"] == 1
    for target in (PASSTHROUGH, label):
        for rate in ("250", "500"):
            measured = document["targets"][target][rate]
            (cpu,), (disturbed,) = measured["cpu_us_per_request"], measured["disturbed"]
            assert cpu is None if disturbed else cpu > 0, (target, rate)
    assert document["targets"][label]["250"]["x_first"] in {1, None}
    assert "CPU per request, cache misses, 1 alternated rounds" in capsys.readouterr().out
