"""A text part whose ``text`` is not a string is a 400 naming it, as OpenAI answers, not a 500."""

from __future__ import annotations

from typing import Any

import pytest
from provider_support import Client, chat_body, post_json


def _parts(*parts: dict[str, Any]) -> dict[str, Any]:
    return chat_body(
        messages=[{"role": "user", "content": "hi"}, {"role": "user", "content": list(parts)}]
    )


@pytest.mark.parametrize(
    ("text", "got"), [(None, "null"), (3, "an integer"), ({"a": 1}, "an object"), ([], "an array")]
)
@pytest.mark.parametrize("stream", [False, True])
async def test_a_non_string_text_part_is_a_400_naming_it(
    client: Client, text: Any, got: str, stream: bool
) -> None:
    body = _parts({"type": "text", "text": "fine"}, {"type": "text", "text": text})
    status, answer = await post_json(client, "/v1/chat/completions", {**body, "stream": stream})
    assert status == 400
    error = answer["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "messages[1].content[1].text"
    assert error["message"] == (
        f"Invalid type for 'messages[1].content[1].text': expected a string, but got {got} instead."
    )


async def test_a_text_part_without_text_is_a_400_naming_it(client: Client) -> None:
    status, answer = await post_json(client, "/v1/chat/completions", _parts({"type": "text"}))
    assert status == 400
    assert answer["error"]["param"] == "messages[1].content[0].text"
    assert (
        answer["error"]["message"] == "Missing required parameter: 'messages[1].content[0].text'."
    )


async def test_string_text_parts_and_other_parts_still_answer(client: Client) -> None:
    body = _parts(
        {"type": "text", "text": "Hello"}, {"type": "image_url", "image_url": {"url": "x"}}
    )
    status, answer = await post_json(client, "/v1/chat/completions", body)
    assert status == 200
    assert answer["object"] == "chat.completion"
