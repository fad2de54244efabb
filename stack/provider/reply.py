"""The bodies of a chat completion: the JSON object and the SSE chunks."""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from stack.provider.content import Completion


DONE = b"data: [DONE]\n\n"


@functools.cache
def fingerprint(model: str, seed: int) -> str:
    """The ``system_fingerprint`` of a model under one config seed."""
    return "fp_" + hashlib.sha256(f"{model}/{seed}".encode()).hexdigest()[:10]


@dataclass(frozen=True, slots=True)
class Reply:
    """Everything a chat completion response says."""

    id: str
    created: int
    model: str
    fingerprint: str
    choices: tuple[Completion, ...]
    prompt_tokens: int

    @classmethod
    def new(
        cls, *, model: str, fingerprint: str, choices: tuple[Completion, ...], prompt_tokens: int
    ) -> Reply:
        """A reply with a fresh id and the current time."""
        return cls(
            id=f"chatcmpl-{secrets.token_hex(15)}",
            created=int(time.time()),
            model=model,
            fingerprint=fingerprint,
            choices=choices,
            prompt_tokens=prompt_tokens,
        )

    @property
    def completion_tokens(self) -> int:
        """Completion tokens over all choices."""
        return sum(choice.tokens for choice in self.choices)

    @property
    def longest(self) -> int:
        """Tokens of the longest choice (it sets the duration)."""
        return max(choice.tokens for choice in self.choices)

    def usage(self) -> dict[str, int]:
        """The ``usage`` object."""
        completion = self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }

    def body(self) -> dict[str, object]:
        """The ``chat.completion`` object."""
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": index,
                    "message": {"role": "assistant", "content": choice.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": choice.finish_reason,
                }
                for index, choice in enumerate(self.choices)
            ],
            "usage": self.usage(),
            "system_fingerprint": self.fingerprint,
        }


class ChunkWriter:
    """Renders ``chat.completion.chunk`` SSE events of one reply as bytes."""

    def __init__(self, reply: Reply, *, include_usage: bool) -> None:
        self._reply = reply
        self._usage = ',"usage":null' if include_usage else ""
        head = (
            f'data: {{"id":"{reply.id}","object":"chat.completion.chunk",'
            f'"created":{reply.created},"model":{json.dumps(reply.model)},'
            f'"system_fingerprint":"{reply.fingerprint}","choices":[{{"index":'
        )
        self._heads = [f'{head}{index},"delta":' for index in range(len(reply.choices))]
        self._tail = ',"logprobs":null,"finish_reason":null}]' + self._usage + "}\n\n"

    def role(self, index: int) -> str:
        """The first chunk of a choice."""
        return self._heads[index] + '{"role":"assistant","content":"","refusal":null}' + self._tail

    def content(self, index: int, piece: str) -> str:
        """One token of a choice."""
        return self._heads[index] + '{"content":' + json.dumps(piece) + "}" + self._tail

    def finish(self, index: int) -> str:
        """The last chunk of a choice: an empty delta and the finish reason."""
        reason = self._reply.choices[index].finish_reason
        return (
            f'{self._heads[index]}{{}},"logprobs":null,"finish_reason":"{reason}"}}]'
            f"{self._usage}}}\n\n"
        )

    def usage(self) -> str:
        """The extra final chunk of ``stream_options.include_usage``."""
        reply = self._reply
        chunk = {
            "id": reply.id,
            "object": "chat.completion.chunk",
            "created": reply.created,
            "model": reply.model,
            "system_fingerprint": reply.fingerprint,
            "choices": [],
            "usage": reply.usage(),
        }
        return f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n"

    def garbage(self) -> str:
        """An event whose data is not valid JSON (the malformed fault)."""
        return self._heads[0] + '{"content":"\\u00\n\n'
