"""The ``flag`` fault: it rewrites one flag of a flags file and puts it back when it heals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from faults import FaultActionError, FaultContext, FaultEvent
from faults.gateway.flag import FlagFault
from faults.gateway.flag_document import write_flags


STABLE: dict[str, Any] = {
    "state": "ENABLED",
    "variants": {"stable": "gpt-4o-mini", "canary": "gpt-4o"},
    "defaultVariant": "stable",
}
OTHER: dict[str, Any] = {"state": "ENABLED", "variants": {"a": "x"}, "defaultVariant": "a"}
CTX = FaultContext()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "flags.json"
    write_flags(path, {"flags": {"model": STABLE, "other": OTHER}})
    return path


def flags(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))["flags"]


def test_a_variant_is_served_to_everyone_then_the_flag_is_put_back(path: Path) -> None:
    fault = FlagFault(file=path, flag="model", variant="canary")
    fault.inject(CTX)
    assert flags(path)["model"]["defaultVariant"] == "canary"
    assert flags(path)["model"]["targeting"] == {}
    fault.heal(CTX)
    assert flags(path) == {"model": STABLE, "other": OTHER}


def test_a_split_becomes_a_fractional_rule(path: Path) -> None:
    fault = FlagFault(file=path, flag="model", split={"stable": 90, "canary": 10})
    fault.inject(CTX)
    assert flags(path)["model"]["targeting"] == {"fractional": [["stable", 90], ["canary", 10]]}
    fault.heal(CTX)
    assert flags(path)["model"] == STABLE


def test_healing_keeps_what_changed_in_other_flags_meanwhile(path: Path) -> None:
    fault = FlagFault(file=path, flag="model", variant="canary")
    fault.inject(CTX)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["flags"]["other"]["state"] = "DISABLED"
    write_flags(path, document)
    fault.heal(CTX)
    assert flags(path)["model"] == STABLE
    assert flags(path)["other"]["state"] == "DISABLED"


def test_a_later_fault_on_the_flag_heals_back_to_the_earlier_one(path: Path) -> None:
    earlier = FlagFault(file=path, flag="model", split={"stable": 50, "canary": 50})
    later = FlagFault(file=path, flag="model", variant="canary")
    earlier.inject(CTX)
    later.inject(CTX)
    later.heal(CTX)
    assert "fractional" in flags(path)["model"]["targeting"]
    earlier.inject(CTX)  # the timeline injects the earlier one again
    earlier.heal(CTX)
    assert flags(path)["model"] == STABLE


def test_healing_what_was_never_injected_changes_nothing(path: Path) -> None:
    before = path.read_bytes()
    FlagFault(file=path, flag="model", variant="canary").heal(CTX)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ({"flag": "nope", "variant": "canary"}, "no flag 'nope'"),
        ({"flag": "model", "variant": "nope"}, "no variant 'nope'"),
        ({"flag": "model", "split": {"stable": 0}}, "add up to more than 0"),
    ],
)
def test_an_edit_the_file_cannot_take_is_a_fault_action_error(
    path: Path, fault: dict[str, Any], problem: str
) -> None:
    before = path.read_bytes()
    with pytest.raises(FaultActionError, match=problem):
        FlagFault(file=path, **fault).inject(CTX)
    assert path.read_bytes() == before


def test_a_missing_file_is_a_fault_action_error(tmp_path: Path) -> None:
    with pytest.raises(FaultActionError):
        FlagFault(file=tmp_path / "none.json", flag="model", variant="a").inject(CTX)


def test_exactly_one_of_variant_and_split(path: Path) -> None:
    with pytest.raises(ValidationError, match="exactly one of 'variant' or 'split'"):
        FlagFault(file=path, flag="model")
    with pytest.raises(ValidationError, match="exactly one of 'variant' or 'split'"):
        FlagFault(file=path, flag="model", variant="canary", split={"canary": 1})


def test_a_flag_event_reads_from_a_timeline_entry(path: Path) -> None:
    event = FaultEvent.model_validate(
        {
            "fault": {"kind": "flag", "file": str(path), "flag": "model", "variant": "canary"},
            "at_s": 2,
            "for_s": 3,
        }
    )
    assert event.label == "flag"
    assert event.fault.slot == ("flag", str(path), "model")
    assert event.fault.target == "model"
