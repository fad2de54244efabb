"""flagd targeting rules: the JsonLogic subset, compiled once, checked when read."""

from __future__ import annotations

from collections import Counter

import pytest

from reference_impl.flags_targeting import TargetingError, bucket, compile_rule


VARIANTS = ["stable", "canary", "big"]


def rule(node: object, key: str = "model"):
    return compile_rule(node, flag_key=key, variants=VARIANTS)


def test_if_with_equality_and_membership_picks_by_tenant() -> None:
    chosen = rule(
        {
            "if": [
                {"==": [{"var": "tenant"}, "acme"]},
                "big",
                {"in": [{"var": "tenant"}, ["globex", "initech"]]},
                "canary",
                "stable",
            ]
        }
    )
    assert chosen({"tenant": "acme"}) == "big"
    assert chosen({"tenant": "initech"}) == "canary"
    assert chosen({"tenant": "other"}) == "stable"
    assert chosen({}) == "stable"


def test_an_if_without_else_gives_none_for_the_default() -> None:
    chosen = rule({"if": [{"==": [{"var": "tenant"}, "acme"]}, "big"]})
    assert chosen({"tenant": "acme"}) == "big"
    assert chosen({"tenant": "other"}) is None


def test_in_a_string_is_a_substring_test() -> None:
    chosen = rule({"if": [{"in": ["mini", {"var": "model"}]}, "canary", "stable"]})
    assert chosen({"model": "gpt-4o-mini"}) == "canary"
    assert chosen({"model": "gpt-4o"}) == "stable"


def test_var_reads_dotted_paths_and_defaults() -> None:
    chosen = rule({"if": [{"==": [{"var": ["plan.tier", "free"]}, "free"]}, "stable", "big"]})
    assert chosen({"plan": {"tier": "pro"}}) == "big"
    assert chosen({}) == "stable"


def test_fractional_splits_keys_in_proportion_and_keeps_each_key_in_its_variant() -> None:
    split = rule({"fractional": [["stable", 90], ["canary", 10]]})
    keys = [f"user-{i}" for i in range(20_000)]
    shares = Counter(split({"targetingKey": key}) for key in keys)
    assert shares["stable"] + shares["canary"] == len(keys)
    assert 0.09 < shares["canary"] / len(keys) < 0.11
    assert all(split({"targetingKey": key}) == split({"targetingKey": key}) for key in keys[:100])


def test_raising_a_weight_only_moves_keys_into_that_variant() -> None:
    ten = rule({"fractional": [["canary", 10], ["stable", 90]]})
    fifty = rule({"fractional": [["canary", 50], ["stable", 50]]})
    keys = [f"k{i}" for i in range(5_000)]
    for key in keys:
        if ten({"targetingKey": key}) == "canary":
            assert fifty({"targetingKey": key}) == "canary"


def test_fractional_without_a_targeting_key_gives_the_default() -> None:
    assert rule({"fractional": [["stable", 50], ["canary", 50]]})({}) is None


def test_fractional_buckets_by_an_expression_when_given() -> None:
    split = rule({"fractional": [{"var": "tenant"}, ["stable", 50], ["canary", 50]]})
    assert len({split({"tenant": "acme", "targetingKey": str(i)}) for i in range(50)}) == 1


def test_a_split_for_everyone_but_a_targeted_tenant() -> None:
    chosen = rule(
        {
            "if": [
                {"==": [{"var": "tenant"}, "acme"]},
                "big",
                {"fractional": [["stable", 50], ["canary", 50]]},
            ]
        }
    )
    assert {chosen({"tenant": "acme", "targetingKey": str(i)}) for i in range(50)} == {"big"}
    others = {chosen({"tenant": "b", "targetingKey": str(i)}) for i in range(50)}
    assert others == {"stable", "canary"}


def test_a_zero_weight_variant_is_never_chosen() -> None:
    split = rule({"fractional": [["stable", 100], ["canary", 0]]})
    assert {split({"targetingKey": str(i)}) for i in range(1000)} == {"stable"}


def test_bucket_is_in_range() -> None:
    assert all(0 <= bucket(str(i), 7) < 7 for i in range(1000))


@pytest.mark.parametrize(
    ("node", "problem"),
    [
        ({"<": [1, 2]}, "unknown operator '<'"),
        ({"==": [1]}, "needs two operands"),
        ({"if": [{"==": [1, 1]}, "nope"]}, "'nope' is not a variant"),
        ({"fractional": [["nope", 50]]}, "'nope' is not a variant"),
        ({"fractional": [["stable", -1]]}, "a weight is an integer >= 0"),
        ({"fractional": [["stable", 0]]}, "the weights add up to 0"),
        ({"var": ""}, "needs a field name"),
        ({"==": [1, 1], "in": [1, []]}, "exactly one operator"),
    ],
)
def test_rules_outside_the_subset_are_refused_with_where_and_why(
    node: object, problem: str
) -> None:
    with pytest.raises(TargetingError, match="targeting") as raised:
        rule(node)
    assert problem in str(raised.value)
