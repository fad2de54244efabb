"""Deterministic embeddings from a hashed bag of tokens.

Every token id maps to a fixed standard-normal vector (seeded by the model,
the config seed and the id); a text's embedding is the sum of its tokens'
vectors, cut to the requested dimensions and L2-normalised. Texts that share
words therefore get similar vectors, as with a real embedding model.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


Vector = npt.NDArray[np.float32]
CACHED_TOKENS = 2048


def space(model: str, seed: int) -> int:
    """The id of a model's vector space under one config seed."""
    return int.from_bytes(hashlib.sha256(f"{model}/{seed}".encode()).digest()[:8], "big")


@functools.lru_cache(maxsize=CACHED_TOKENS)
def token_vector(space_id: int, token: int, dimensions: int) -> Vector:
    """The (read-only) vector of one token."""
    vector = np.random.default_rng([space_id, token]).standard_normal(dimensions, np.float32)
    vector.flags.writeable = False
    return vector


def embed(token_ids: Sequence[int], *, space_id: int, dimensions: int, size: int) -> Vector:
    """The unit vector of a text given as token ids, with ``size`` <= ``dimensions`` values."""
    total = np.zeros(dimensions, np.float32)
    for token, count in Counter(token_ids).items():
        total += np.float32(count) * token_vector(space_id, token, dimensions)
    cut = total[:size]
    norm = float(np.linalg.norm(cut))
    return cut / np.float32(norm) if norm else cut
