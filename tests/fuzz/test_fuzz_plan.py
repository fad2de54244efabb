"""The fuzz plan: the same requests for the same seed, every category, the canary in every
prompt text."""

from __future__ import annotations

import json

import pytest
from fuzz_plan import HAND_MADE, hand_made, plan
from fuzz_probes import Context, with_canary

from reference_impl.openapi import STORED_PATH


CANARY = "canary-test"
CONTEXT = Context(
    canary=CANARY,
    host="127.0.0.1:9",
    keys=("sk-one-0000", "sk-two-0000"),
    chat_models=("gpt-4o-mini",),
    embedding_models=("text-embedding-3-small",),
    pipelines={"sk-one-0000": (1, 2), "sk-two-0000": (3,)},
    candidates={"sk-one-0000": (10,), "sk-two-0000": (30,)},
    metrics_token="scrape-token-0000",  # noqa: S106 - a test value
)


@pytest.fixture(scope="module")
def document() -> dict[str, object]:
    return dict(json.loads(STORED_PATH.read_bytes()))


def _wires(document: dict[str, object], seed: int) -> list[bytes]:
    return [probe.wire for probe in plan(document, 60, seed, CONTEXT)]


def test_a_seed_gives_the_same_requests_and_another_seed_others(
    document: dict[str, object],
) -> None:
    first = _wires(document, 5)
    assert len(first) == 60
    assert _wires(document, 5) == first
    assert _wires(document, 6) != first


def test_every_hand_made_category_is_sent() -> None:
    probes = hand_made(len(HAND_MADE) * 3, 1, CONTEXT)
    prefixes = {probe.kind.split("/")[0] for probe in probes}
    assert {
        "body",
        "encoding",
        "headers",
        "methods",
        "auth",
        "spoofing",
        "options",
        "metrics",
        "wire",
    } <= prefixes
    assert len({probe.kind for probe in probes}) > len(HAND_MADE)


def test_the_canary_goes_into_every_prompt_text() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "user", "content": [{"type": "text", "text": "b"}, {"type": "image"}]},
            {"role": "assistant", "content": None},
        ],
        "input": ["c", 7],
    }
    marked = with_canary(body, CANARY)
    assert marked["messages"][0]["content"] == f"{CANARY} a"
    assert marked["messages"][1]["content"] == [
        {"type": "text", "text": f"{CANARY} b"},
        {"type": "image"},
    ]
    assert marked["messages"][2]["content"] is None
    assert marked["input"] == [f"{CANARY} c", 7]
    assert with_canary({"input": "d"}, CANARY) == {"input": f"{CANARY} d"}
    assert with_canary([1], CANARY) == [1]
