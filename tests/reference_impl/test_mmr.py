"""Maximal Marginal Relevance: diversity changes the order, lambda 1 is pure relevance."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reference_impl.retrieval import mmr


QUERY = np.array([1.0, 0.0])
# Two near-duplicates closest to the query, and a third less relevant but pointing elsewhere.
NEAR_DUPLICATES_AND_A_DIVERSE_ONE = np.array(
    [
        [0.98, 0.20],  # 0: most relevant
        [0.97, 0.24],  # 1: almost the same as 0
        [0.80, -0.60],  # 2: less relevant, different direction
    ]
)


def test_a_diverse_document_comes_before_a_near_duplicate():
    assert mmr(QUERY, NEAR_DUPLICATES_AND_A_DIVERSE_ONE, k=3, lambda_=0.5) == [0, 2, 1]


def test_lambda_one_is_relevance_order():
    assert mmr(QUERY, NEAR_DUPLICATES_AND_A_DIVERSE_ONE, k=3, lambda_=1.0) == [0, 1, 2]


def test_the_first_pick_is_the_most_relevant_whatever_lambda_is():
    assert mmr(QUERY, NEAR_DUPLICATES_AND_A_DIVERSE_ONE, k=1, lambda_=0.0) == [0]


def test_similarity_is_cosine_so_length_does_not_matter():
    scaled = NEAR_DUPLICATES_AND_A_DIVERSE_ONE * np.array([[10.0], [0.1], [3.0]])
    assert mmr(QUERY * 5, scaled, k=3) == [0, 2, 1]


def test_k_larger_than_the_candidates_returns_them_all():
    assert sorted(mmr(QUERY, NEAR_DUPLICATES_AND_A_DIVERSE_ONE, k=10)) == [0, 1, 2]


def test_k_zero_and_no_candidates_return_nothing():
    assert mmr(QUERY, NEAR_DUPLICATES_AND_A_DIVERSE_ONE, k=0) == []
    assert mmr(QUERY, np.empty((0, 2)), k=5) == []


def test_a_zero_vector_is_similar_to_nothing_and_picked_last():
    candidates = np.array([[0.0, 0.0], [0.5, 0.5]])
    assert mmr(QUERY, candidates, k=2, lambda_=1.0) == [1, 0]


@pytest.mark.parametrize("lambda_", [-0.1, 1.1, float("nan")])
def test_lambda_outside_zero_one_is_refused(lambda_):
    with pytest.raises(ValueError, match="lambda_"):
        mmr(QUERY, NEAR_DUPLICATES_AND_A_DIVERSE_ONE, k=2, lambda_=lambda_)


def test_negative_k_is_refused():
    with pytest.raises(ValueError, match="k must not be negative"):
        mmr(QUERY, NEAR_DUPLICATES_AND_A_DIVERSE_ONE, k=-1)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="shape"):
        mmr(np.array([1.0, 0.0, 0.0]), NEAR_DUPLICATES_AND_A_DIVERSE_ONE, k=2)


finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


@given(
    candidates=arrays(np.float64, st.tuples(st.integers(1, 12), st.just(4)), elements=finite),
    query=arrays(np.float64, (4,), elements=finite),
    k=st.integers(0, 15),
    lambda_=st.floats(0, 1),
)
def test_picks_are_distinct_valid_indices(candidates, query, k, lambda_):
    picked = mmr(query, candidates, k=k, lambda_=lambda_)
    assert len(picked) == min(k, len(candidates))
    assert len(set(picked)) == len(picked)
    assert all(0 <= index < len(candidates) for index in picked)
