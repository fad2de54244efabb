"""Stream timing maths on synthetic chunk arrival times."""

import math

import pytest

from benchmarks.stream_timing import stream_timing


def test_ttft_counts_from_the_intended_send_time() -> None:
    timing = stream_timing(10.0, [10.25, 10.30, 10.35], completion_tokens=3)
    assert timing.ttft_s == pytest.approx(0.25)


def test_tpot_excludes_the_first_token_and_uses_usage_tokens() -> None:
    # 4 chunks but 7 tokens: 6 tokens after the first arrived over 0.3 s.
    timing = stream_timing(0.0, [0.5, 0.6, 0.7, 0.8], completion_tokens=7)
    assert timing.tpot_s == pytest.approx(0.05)


def test_itl_is_every_gap_between_chunks() -> None:
    timing = stream_timing(0.0, [0.1, 0.15, 1.15, 1.2], completion_tokens=4)
    assert timing.itl_s == pytest.approx((0.05, 1.0, 0.05))
    assert timing.itl_max_s == pytest.approx(1.0)


def test_a_single_token_has_no_tpot_and_no_gaps() -> None:
    timing = stream_timing(0.0, [0.2], completion_tokens=1)
    assert timing.ttft_s == pytest.approx(0.2)
    assert math.isnan(timing.tpot_s)
    assert timing.itl_s == ()
    assert math.isnan(timing.itl_max_s)


def test_a_stream_without_content_has_no_timing() -> None:
    timing = stream_timing(0.0, [], completion_tokens=0)
    assert math.isnan(timing.ttft_s)
    assert math.isnan(timing.tpot_s)
