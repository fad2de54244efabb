"""POST /v1/embeddings: deterministic unit vectors, float and base64, dimensions."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from provider_support import Client, post_json

from stack.provider import tokens


async def _embed(client: Client, **body: Any) -> dict[str, Any]:
    status, data = await post_json(client, "/v1/embeddings", {"model": "embed", **body})
    assert status == 200, data
    return data  # type: ignore[no-any-return]


def _vectors(data: dict[str, Any]) -> list[np.ndarray[Any, np.dtype[np.float64]]]:
    return [np.array(item["embedding"]) for item in data["data"]]


async def test_float_vectors_are_unit_length_and_deterministic(client: Client) -> None:
    texts = ["the quick brown fox", "a cache in front of the database"]
    data = await _embed(client, input=texts, encoding_format="float")
    assert data["object"] == "list"
    assert data["model"] == "embed"
    assert [item["index"] for item in data["data"]] == [0, 1]
    assert all(item["object"] == "embedding" for item in data["data"])
    prompt_tokens = sum(tokens.count(text) for text in texts)
    assert data["usage"] == {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}
    vectors = _vectors(data)
    assert all(v.shape == (64,) for v in vectors)
    assert all(np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5) for v in vectors)
    again = _vectors(await _embed(client, input=texts, encoding_format="float"))
    assert all(np.array_equal(a, b) for a, b in zip(vectors, again, strict=True))


async def test_texts_sharing_words_are_closer(client: Client) -> None:
    texts = ["the quick brown fox jumps", "the quick brown dog jumps", "latency budget report"]
    fox, dog, other = _vectors(await _embed(client, input=texts, encoding_format="float"))
    assert float(fox @ dog) > 0.5
    assert float(fox @ dog) > float(fox @ other) + 0.3


async def test_base64_is_little_endian_float32_of_the_same_vector(client: Client) -> None:
    as_float = _vectors(await _embed(client, input="hello world", encoding_format="float"))[0]
    data = await _embed(client, input="hello world", encoding_format="base64")
    decoded = np.frombuffer(base64.b64decode(data["data"][0]["embedding"]), dtype="<f4")
    assert decoded.shape == (64,)
    assert np.allclose(decoded, as_float, atol=1e-7)


async def test_dimensions_shorten_and_renormalise(client: Client) -> None:
    full = _vectors(await _embed(client, input="hello world", encoding_format="float"))[0]
    short = _vectors(
        await _embed(client, input="hello world", encoding_format="float", dimensions=16)
    )[0]
    assert short.shape == (16,)
    assert np.linalg.norm(short) == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(short, full[:16] / np.linalg.norm(full[:16]), atol=1e-6)


async def test_token_id_inputs_match_the_text(client: Client) -> None:
    ids = tokens.encode("hello world")
    from_text = _vectors(await _embed(client, input="hello world", encoding_format="float"))
    from_ids = _vectors(await _embed(client, input=ids, encoding_format="float"))
    from_lists = await _embed(client, input=[ids, ids], encoding_format="float")
    assert np.array_equal(from_text[0], from_ids[0])
    assert len(from_lists["data"]) == 2
    assert from_lists["usage"]["prompt_tokens"] == 2 * len(ids)
