"""The simulated provider as the stack runs it, driven by the official openai SDK."""

import json

import openai
import pytest


@pytest.fixture
def client(stack):
    with openai.OpenAI(
        base_url=stack.endpoints.provider + "/v1", api_key="sk-test", max_retries=0
    ) as client:
        yield client


def test_the_sdk_lists_models_and_completes_a_chat(client):
    assert "gpt-4o-mini" in {model.id for model in client.models.list()}
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Summarise the pipeline."}]
    )
    assert completion.choices[0].message.content
    assert completion.usage.completion_tokens > 0


def test_a_stream_arrives_in_order_with_usage(client):
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Draft an outreach message."}],
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) == 12  # one token per chunk
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 12
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == ["length"]
    assert len({c.id for c in chunks}) == 1


def test_the_provider_answers_429_with_retry_after_once_rpm_is_exceeded(stack, client):
    config = stack.provider.config()
    config["key_limits"] = {"rpm": 3, "tpm": None}
    stack.provider.set_config(config)
    messages = [{"role": "user", "content": "hi"}]
    for _ in range(3):
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=2)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=2)
    headers = info.value.response.headers
    assert int(headers["retry-after"]) >= 1
    assert int(headers["retry-after-ms"]) > 0
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert json.loads(info.value.response.text)["error"]["type"]
    assert stack.provider.stats()["total"]["status"]["429"] == 1


def test_embeddings_are_deterministic_unit_vectors(client):
    first = client.embeddings.create(model="text-embedding-3-small", input="senior engineer")
    again = client.embeddings.create(model="text-embedding-3-small", input="senior engineer")
    vector = first.data[0].embedding
    assert len(vector) == 1536
    assert vector == again.data[0].embedding
    assert abs(sum(x * x for x in vector) - 1.0) < 1e-3
