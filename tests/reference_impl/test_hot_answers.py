"""A worker's copies of cached answers: kept for the rest of their TTL, bounded in bytes,
never an answer that may not be cached."""

from __future__ import annotations

import pytest
from fake_clock import FakeClock

from reference_impl.answer import Answer
from reference_impl.hot_answers import ENTRY_OVERHEAD_BYTES, HotAnswers


def answer(body: bytes = b'{"choices":[]}') -> Answer:
    return Answer(status=200, body=body, model="m")


def test_an_answer_is_kept_until_its_ttl_runs_out() -> None:
    clock = FakeClock()
    hot = HotAnswers(clock=clock)
    hot.put("k", answer(), ttl_s=2.0)
    clock.advance(1.999)
    assert hot.get("k") == answer()
    clock.advance(0.001)
    assert hot.get("k") is None
    assert (len(hot), hot.size_bytes) == (0, 0)


@pytest.mark.parametrize(
    "refused",
    [Answer(status=500, body=b"{}"), Answer(status=200, body=b"{}", degraded=True)],
    ids=["error", "degraded"],
)
def test_an_answer_that_may_not_be_cached_is_never_kept(refused: Answer) -> None:
    hot = HotAnswers()
    hot.put("k", refused, ttl_s=60.0)
    assert hot.get("k") is None


def test_no_ttl_left_keeps_nothing() -> None:
    hot = HotAnswers()
    hot.put("k", answer(), ttl_s=0.0)
    hot.put("j", answer(), ttl_s=-0.001)  # Redis's PTTL of a key without expiry
    assert len(hot) == 0


def test_past_its_bound_the_least_recently_used_answers_go_first() -> None:
    body = b"x" * 100
    entry = ENTRY_OVERHEAD_BYTES + 1 + len(body) + 1  # the key, the body, the model
    hot = HotAnswers(max_bytes=4 * entry)
    for key in "abcd":
        hot.put(key, answer(body), ttl_s=60.0)
    assert hot.get("a") is not None  # now the most recently used
    hot.put("e", answer(body), ttl_s=60.0)
    assert [key for key in "abcde" if hot.get(key) is not None] == ["a", "c", "d", "e"]
    assert hot.size_bytes == 4 * entry <= hot.max_bytes


def test_an_answer_too_large_for_a_quarter_of_the_bound_is_not_kept() -> None:
    hot = HotAnswers(max_bytes=4_000)
    hot.put("small", answer(b"x" * 100), ttl_s=60.0)
    hot.put("large", answer(b"x" * 1_000), ttl_s=60.0)
    assert hot.get("large") is None
    assert hot.get("small") is not None


def test_keeping_a_key_again_replaces_its_copy_and_its_size() -> None:
    clock = FakeClock()
    hot = HotAnswers(clock=clock)
    hot.put("k", answer(b"old"), ttl_s=1.0)
    hot.put("k", answer(b"newer"), ttl_s=5.0)
    clock.advance(2.0)
    assert hot.get("k") == answer(b"newer")
    assert len(hot) == 1
    assert hot.size_bytes == ENTRY_OVERHEAD_BYTES + 1 + len(b"newer") + 1


def test_a_negative_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        HotAnswers(max_bytes=-1)
