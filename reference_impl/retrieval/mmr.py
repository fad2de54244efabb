"""Maximal Marginal Relevance: re-rank retrieved chunks for relevance *and* diversity.

A nearest-neighbour search returns the chunks closest to the query, and in real corpora the
closest chunks are often near-duplicates (the same CV paragraph in three uploads). Feeding all
of them to a model wastes context. MMR picks greedily: each step takes the candidate with the
best ``lambda_ * sim(query, d) - (1 - lambda_) * max(sim(d, s) for s already picked)``, all
similarities cosine. ``lambda_ = 1`` is pure relevance order, ``0`` pure diversity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def mmr(
    query: npt.NDArray[np.floating[Any]],
    candidates: npt.NDArray[np.floating[Any]],
    *,
    k: int,
    lambda_: float = 0.5,
) -> list[int]:
    """Indices into ``candidates`` (one row per candidate) in pick order, at most ``k``."""
    if not 0.0 <= lambda_ <= 1.0:
        raise ValueError(f"lambda_ must be between 0 and 1, got {lambda_}")
    if k < 0:
        raise ValueError(f"k must not be negative, got {k}")
    if candidates.ndim != 2 or query.shape != (candidates.shape[1],):  # noqa: PLR2004 - a matrix
        raise ValueError(
            f"expected a query of shape (d,) and candidates of shape (n, d),"
            f" got {query.shape} and {candidates.shape}"
        )
    rows = _unit_rows(candidates.astype(np.float64))
    relevance = rows @ _unit_rows(query.astype(np.float64)[np.newaxis, :])[0]
    similarity = rows @ rows.T
    count = min(k, len(rows))
    picked: list[int] = []
    redundancy = np.zeros(len(rows))  # max similarity to anything picked; nothing picked yet
    available = np.ones(len(rows), dtype=bool)
    for _ in range(count):
        score = lambda_ * relevance - (1.0 - lambda_) * redundancy
        best = int(np.argmax(np.where(available, score, -np.inf)))
        redundancy = np.maximum(redundancy, similarity[best]) if picked else similarity[best]
        picked.append(best)
        available[best] = False
    return picked


def _unit_rows(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Rows scaled to unit length; all-zero rows stay zero (similar to nothing)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: npt.NDArray[np.float64] = np.divide(
        matrix, norms, out=np.zeros_like(matrix), where=norms > 0
    )
    return unit
