"""The capacity search: a bracket of the highest passing and lowest failing rate, censored
when the range searched holds no failing or no passing rate; measured without a stack."""

import functools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scenarios.cli import compare_command, main
from scenarios.compare.capacity import (
    Bracket,
    Measure,
    Step,
    find_capacity,
    search,
    summary,
)
from scenarios.compare.result_set import load_result_set
from scenarios.loader import load_scenario, resolve
from scenarios.runner import RunOptions
from scenarios.schema import ScenarioSpec


@pytest.fixture
def steady_chat() -> ScenarioSpec:
    return load_scenario(resolve("steady_chat")[0])


def passing_up_to(capacity_rps: float) -> Measure:
    """A step that passes at rates up to ``capacity_rps`` and fails above, with no stack."""

    def measure(_spec: ScenarioSpec, rate_rps: float, _options: RunOptions) -> Step:
        passed = rate_rps <= capacity_rps
        return Step(rate_rps, "pass" if passed else "fail", 100.0 if passed else 900.0, 0.0)

    return measure


def test_when_every_rate_passes_capacity_is_censored_above(
    steady_chat: ScenarioSpec, tmp_path: Path
) -> None:
    found = find_capacity(
        steady_chat, target="hardened", out=tmp_path, low_rps=20, high_rps=40,
        measure=passing_up_to(1000),
    )  # fmt: skip
    assert found.bracket == Bracket(passing_rps=40.0, failing_rps=None)
    assert found.bracket.censored
    assert [step.rate_rps for step in found.steps] == [20.0, 40.0]
    assert summary(found) == ">= 40.0 clicks/s (no failing rate found up to --high 40)"


def test_when_the_lowest_rate_fails_capacity_is_censored_below(
    steady_chat: ScenarioSpec, tmp_path: Path
) -> None:
    found = find_capacity(
        steady_chat, target="hardened", out=tmp_path, low_rps=20, high_rps=40,
        measure=passing_up_to(10),
    )  # fmt: skip
    assert found.bracket == Bracket(passing_rps=None, failing_rps=20.0)
    assert found.bracket.censored
    assert len(found.steps) == 1
    assert summary(found) == "< 20.0 clicks/s (--low 20 already fails)"


def test_a_capacity_within_the_range_is_bracketed(
    steady_chat: ScenarioSpec, tmp_path: Path
) -> None:
    found = find_capacity(
        steady_chat, target="hardened", out=tmp_path, low_rps=20, high_rps=40,
        measure=passing_up_to(33.3),
    )  # fmt: skip
    assert found.bracket == Bracket(passing_rps=32.5, failing_rps=35.0)
    assert not found.bracket.censored
    assert summary(found) == "32.5 clicks/s (passes at 32.5, fails at 35.0)"


def test_capacity_json_records_both_bounds_and_the_censoring(
    steady_chat: ScenarioSpec, tmp_path: Path
) -> None:
    for profile, capacity_rps in (("hardened", 1000.0), ("naive", 33.3), ("other", 10.0)):
        find_capacity(
            steady_chat, target=profile, out=tmp_path / profile, low_rps=20, high_rps=40,
            measure=passing_up_to(capacity_rps),
        )  # fmt: skip
    stored = {
        profile: json.loads((tmp_path / profile / "capacity.json").read_text())
        for profile in ("hardened", "naive", "other")
    }
    bounds = {
        profile: (found["capacity_rps"], found["failing_rps"], found["censored"])
        for profile, found in stored.items()
    }
    assert bounds == {
        "hardened": (40.0, None, True),
        "naive": (32.5, 35.0, False),
        "other": (None, 20.0, True),
    }
    assert [step["verdict"] for step in stored["other"]["steps"]] == ["fail"]


def test_a_result_set_keeps_a_lower_bound_and_skips_a_search_where_nothing_passed(
    steady_chat: ScenarioSpec, tmp_path: Path
) -> None:
    for profile, capacity_rps in (("hardened", 1000.0), ("naive", 10.0)):
        find_capacity(
            steady_chat, target=profile, out=tmp_path / profile, low_rps=20, high_rps=40,
            measure=passing_up_to(capacity_rps),
        )  # fmt: skip
    found = load_result_set(tmp_path)
    assert found.runs == 2
    assert found.samples["steady_chat[hardened]"]["capacity_rps"] == [40.0]
    assert "capacity_rps" not in found.samples.get("steady_chat[naive]", {})


def test_meltproof_capacity_prints_the_bracket(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(
        compare_command,
        "find_capacity",
        functools.partial(find_capacity, measure=passing_up_to(1000)),
    )
    result = CliRunner().invoke(
        main,
        ["capacity", "steady_chat", "--low", "20", "--high", "40", "--profile", "hardened",
         "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "steady_chat [hardened]: >= 40.0 clicks/s (no failing rate found up to --high 40)"
        in result.output
    )


def test_meltproof_capacity_searches_each_target_under_its_own_label(
    monkeypatch, tmp_path: Path
) -> None:
    searched: list[tuple[str, str | None]] = []

    def record(spec, *, target, **_options):  # type: ignore[no-untyped-def]
        searched.append((target, spec.target.peer))
        return find_capacity(spec, target=target, measure=passing_up_to(1000), **_options)

    monkeypatch.setattr(compare_command, "find_capacity", record)
    args = ["capacity", "steady_chat", "--low", "20", "--high", "40", "--out", str(tmp_path)]
    result = CliRunner().invoke(main, [*args, "--target", "hardened", "--target", "litellm"])
    assert result.exit_code == 0, result.output
    assert searched == [("hardened", None), ("litellm", "litellm")]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--profile", "naive", "--target", "litellm"], "give --profile or --target, not both"),
        (["--target", "a/gw.yaml", "--target", "b/gw.yaml"], "more than one target named gw"),
    ],
)
def test_capacity_refuses_targets_it_cannot_tell_apart(options: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["capacity", "steady_chat", *options])
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize("true_capacity", [3.0, 37.0, 100.0, 1000.0])
def test_the_capacity_search_brackets_the_true_capacity(true_capacity: float) -> None:
    tried: list[float] = []

    def passes(rate: float) -> bool:
        tried.append(rate)
        return rate <= true_capacity

    found = search(passes, 2.0, 256.0, 0.1)
    if true_capacity >= 256:
        assert found == Bracket(passing_rps=256.0, failing_rps=None)
    else:
        assert found.passing_rps is not None
        assert found.failing_rps is not None
        assert found.passing_rps <= true_capacity < found.failing_rps
        assert found.failing_rps <= found.passing_rps * 1.1
    assert len(tried) < 15


def test_a_capacity_below_the_first_rate_has_no_passing_rate() -> None:
    assert search(lambda _rate: False, 2.0, 256.0, 0.1) == Bracket(None, 2.0)


def test_a_range_upside_down_is_refused() -> None:
    with pytest.raises(ValueError, match="above the highest"):
        search(lambda _rate: True, 40.0, 20.0, 0.1)


def test_the_highest_rate_is_tried_even_off_the_doubling_ladder() -> None:
    tried: list[float] = []

    def passes(rate: float) -> bool:
        tried.append(rate)
        return True

    assert search(passes, 3.0, 256.0, 0.1) == Bracket(passing_rps=256.0, failing_rps=None)
    assert tried == [3.0, 6.0, 12.0, 24.0, 48.0, 96.0, 192.0, 256.0]
    assert search(lambda rate: rate < 200, 3.0, 256.0, 0.1).failing_rps is not None
