"""Answers given when the provider cannot: a degraded completion with a banner, or a 503.

A degraded completion is a valid ``chat.completion`` whose content is the banner, with
``"degraded": true`` at the top level (and ``x-degraded: true`` on the response), so that
OpenAI clients parse it and products can show it as such. It is never cached.
"""

from __future__ import annotations

import json
import time
import uuid
from http import HTTPStatus

from .answer import Answer


def degraded_completion(*, model: str, banner: str, reason: str) -> Answer:
    """A 200 chat completion carrying the banner, marked degraded."""
    body = {
        "id": f"chatcmpl-degraded-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": banner},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "degraded": True,
        "degraded_reason": reason,
    }
    return Answer(status=200, body=json.dumps(body).encode(), model=model, degraded=True)


def unavailable(*, reason: str, retry_after_s: float) -> Answer:
    """A 503 for what cannot degrade (embeddings): retry after the breaker may have healed."""
    body = {
        "error": {
            "message": f"the provider is unavailable ({reason}); retry later",
            "type": "service_unavailable",
            "param": None,
            "code": reason,
        }
    }
    seconds = str(max(1, round(retry_after_s)))
    return Answer(status=503, body=json.dumps(body).encode(), headers={"retry-after": seconds})


def upstream_error(*, status: int, kind: str) -> Answer:
    """The provider's failure passed on as a JSON error (what the naive profile returns)."""
    message = {
        "timeout": "the provider did not answer in time",
        "deadline": "the request's deadline passed",
    }.get(kind, f"the provider failed ({kind})")
    error_type = "timeout" if status == HTTPStatus.GATEWAY_TIMEOUT else "upstream_error"
    body = {"error": {"message": message, "type": error_type, "param": None, "code": kind}}
    return Answer(status=status, body=json.dumps(body).encode())
