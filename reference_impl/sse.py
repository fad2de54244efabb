"""Server-sent events of chat completion streams: split, assemble, replay.

A streamed answer is relayed event by event (``SseSplitter``) while ``StreamAssembler``
builds the equivalent non-streaming ``chat.completion``, which is what the cache and the
coalescing of in-flight requests keep. ``replay_as_sse`` turns such a completion back into
a stream for a client that asked for one, so a stored answer serves both kinds of client.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .answer import COMPACT_JSON


DONE_DATA = b"[DONE]"
_LINE_END = re.compile(rb"[\r\n]")
_CR, _LF = ord("\r"), ord("\n")


class SseSplitter:
    """Bytes in any chunking -> complete events, each exactly as received, blank line included.

    Lines end in ``\\r\\n``, ``\\n`` or ``\\r`` (the SSE grammar); an event ends at an empty
    line and is given out at once, even when it ends in a ``\\r`` whose ``\\n`` may follow
    in the next chunk (that ``\\n`` then belongs to the same line end and starts the next
    event's bytes). Every byte fed comes out once, in order.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._line_start = 0
        self._after_cr = False

    @property
    def pending(self) -> bytes:
        """Bytes of an event not yet complete (what a cut stream leaves behind)."""
        return self._buffer

    def feed(self, chunk: bytes) -> list[bytes]:
        """The events that ``chunk`` completes, in order."""
        buffer = self._buffer + chunk
        events: list[bytes] = []
        event_start, line_start = 0, self._line_start
        if self._after_cr and line_start < len(buffer):
            if buffer[line_start] == _LF:  # the rest of a "\r\n" split across chunks
                line_start += 1
            self._after_cr = False
        while (found := _LINE_END.search(buffer, line_start)) is not None:
            next_line = found.end()
            if buffer[found.start()] == _CR:
                if next_line == len(buffer):
                    self._after_cr = True
                elif buffer[next_line] == _LF:
                    next_line += 1
            if found.start() == line_start:
                events.append(buffer[event_start:next_line])
                event_start = next_line
            line_start = next_line
        self._buffer = buffer[event_start:]
        self._line_start = line_start - event_start
        return events


def event_data(event: bytes) -> bytes | None:
    """The ``data`` of one event (its ``data:`` lines joined by ``\\n``), or None if it has none."""
    lines = [
        line.removeprefix(b"data:").removeprefix(b" ")
        for line in event.splitlines()
        if line.startswith(b"data:")
    ]
    return b"\n".join(lines) if lines else None


def is_usage_only(event: bytes) -> bool:
    """Whether an event (a whole ``data:`` block, or its data alone) is the usage-only chunk.

    That chunk (no choices, a ``usage``) is the one ``stream_options.include_usage`` asks
    for; a relay drops it for a client that did not ask.
    """
    if b'"usage"' not in event:
        return False
    data = event_data(event) if event.lstrip().startswith((b"data:", b":")) else event
    try:
        chunk = json.loads(data or b"")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(chunk, dict) and chunk.get("choices") == [] and bool(chunk.get("usage"))


def carries_content(chunk: Mapping[str, Any]) -> bool:
    """Whether a ``chat.completion.chunk`` carries part of the answer (text, a refusal, a
    tool call), not only a role, a finish reason or the usage."""
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return False
    for choice in choices:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict) and (
            delta.get("content") or delta.get("refusal") or delta.get("tool_calls")
        ):
            return True
    return False


@dataclass(slots=True)
class _ChoiceParts:
    role: str = "assistant"
    content: list[str] | None = None
    refusal: list[str] | None = None
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    logprobs: list[Any] | None = None
    finish_reason: str | None = None

    def add(self, choice: Mapping[str, Any]) -> None:
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = {}
        if isinstance(delta.get("role"), str):
            self.role = delta["role"]
        if isinstance(delta.get("content"), str):
            self.content = self.content or []
            self.content.append(delta["content"])
        if isinstance(delta.get("refusal"), str):
            self.refusal = self.refusal or []
            self.refusal.append(delta["refusal"])
        for call in delta.get("tool_calls") or []:
            if isinstance(call, dict):
                self._add_tool_call(call)
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
            self.logprobs = self.logprobs or []
            self.logprobs.extend(logprobs["content"])
        if choice.get("finish_reason") is not None:
            self.finish_reason = choice["finish_reason"]

    def _add_tool_call(self, call: Mapping[str, Any]) -> None:
        index = call.get("index", len(self.tool_calls))
        known = self.tool_calls.setdefault(
            index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if call.get("id"):
            known["id"] = call["id"]
        if call.get("type"):
            known["type"] = call["type"]
        function = call.get("function")
        if isinstance(function, dict):
            for name in ("name", "arguments"):
                if isinstance(function.get(name), str):
                    known["function"][name] += function[name]

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": self.role,
            "content": None if self.content is None else "".join(self.content),
            "refusal": None if self.refusal is None else "".join(self.refusal),
        }
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[index] for index in sorted(self.tool_calls)]
        return message


class StreamAssembler:
    """Events of a ``chat.completion.chunk`` stream -> the equivalent ``chat.completion``."""

    def __init__(self) -> None:
        self._head: dict[str, Any] = {}
        self._choices: dict[int, _ChoiceParts] = {}
        self._usage: dict[str, Any] | None = None
        self._done = False
        self._broken = False

    @property
    def usage(self) -> dict[str, Any] | None:
        """The stream's ``usage`` object, as soon as a chunk carried one."""
        return self._usage

    def feed(self, event: bytes) -> None:
        """Take one event (as ``SseSplitter`` gives it); events without data are ignored."""
        data = event_data(event)
        if data is None or self._broken:
            return
        if data.strip() == DONE_DATA:
            self._done = True
            return
        try:
            chunk = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._broken = True
            return
        if not isinstance(chunk, dict) or "error" in chunk:
            self._broken = True
            return
        self._add(chunk)

    def _add(self, chunk: dict[str, Any]) -> None:
        for name in ("id", "created", "model", "system_fingerprint"):
            if chunk.get(name) is not None:
                self._head.setdefault(name, chunk[name])
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        choices = chunk.get("choices") or []
        if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
            self._broken = True
            return
        for choice in choices:
            self._choices.setdefault(choice.get("index", 0), _ChoiceParts()).add(choice)

    def completion(self) -> dict[str, Any] | None:
        """The ``chat.completion``, or None while the stream is incomplete, cut or malformed."""
        finished = bool(self._choices) and all(
            parts.finish_reason is not None for parts in self._choices.values()
        )
        if self._broken or not self._head or not (self._done or finished):
            return None
        completion: dict[str, Any] = {
            "id": self._head.get("id", ""),
            "object": "chat.completion",
            "created": self._head.get("created", 0),
            "model": self._head.get("model", ""),
            "choices": [
                {
                    "index": index,
                    "message": parts.message(),
                    "logprobs": None if parts.logprobs is None else {"content": parts.logprobs},
                    "finish_reason": parts.finish_reason,
                }
                for index, parts in sorted(self._choices.items())
            ],
        }
        if self._usage is not None:
            completion["usage"] = self._usage
        if "system_fingerprint" in self._head:
            completion["system_fingerprint"] = self._head["system_fingerprint"]
        return completion


def replay_as_sse(
    completion: Mapping[str, Any], *, include_usage: bool, chunk_chars: int = 16
) -> list[bytes]:
    """A ``chat.completion`` as the SSE events of an equivalent stream, ``[DONE]`` last.

    Per choice: a role delta, the content (and any refusal) in ``chunk_chars`` pieces, the
    tool calls, then an empty delta with the finish reason and the logprobs. With
    ``include_usage`` every chunk says ``"usage": null`` and a last chunk with no choices
    carries the usage, if the completion has one.
    """
    if chunk_chars < 1:
        raise ValueError(f"chunk_chars must be at least 1, not {chunk_chars}")
    head = {
        "id": completion.get("id", ""),
        "object": "chat.completion.chunk",
        "created": completion.get("created", 0),
        "model": completion.get("model", ""),
    }
    if completion.get("system_fingerprint") is not None:
        head["system_fingerprint"] = completion["system_fingerprint"]
    tail = {"usage": None} if include_usage else {}

    def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        chunk = {**head, "choices": choices, **tail, **extra}
        return b"data: " + COMPACT_JSON.encode(chunk).encode() + b"\n\n"

    events: list[bytes] = []
    for position, choice in enumerate(completion.get("choices") or []):
        index = choice.get("index", position)
        deltas = _deltas(choice.get("message") or {}, chunk_chars=chunk_chars)
        events.extend(
            event([{"index": index, "delta": delta, "logprobs": None, "finish_reason": None}])
            for delta in deltas
        )
        finish = {
            "index": index,
            "delta": {},
            "logprobs": choice.get("logprobs"),
            "finish_reason": choice.get("finish_reason"),
        }
        events.append(event([finish]))
    if include_usage and completion.get("usage") is not None:
        events.append(event([], usage=completion["usage"]))
    events.append(b"data: " + DONE_DATA + b"\n\n")
    return events


def _deltas(message: Mapping[str, Any], *, chunk_chars: int) -> list[dict[str, Any]]:
    """The deltas that rebuild ``message``: role first, then text pieces, then tool calls."""
    content, refusal = message.get("content"), message.get("refusal")
    role = {
        "role": message.get("role", "assistant"),
        "content": "" if isinstance(content, str) else None,
        "refusal": "" if isinstance(refusal, str) else None,
    }
    deltas = [role]
    for name, text in (("content", content), ("refusal", refusal)):
        if isinstance(text, str):
            deltas.extend(
                {name: text[start : start + chunk_chars]}
                for start in range(0, len(text), chunk_chars)
            )
    deltas.extend(
        {"tool_calls": [{"index": position, **call}]}
        for position, call in enumerate(message.get("tool_calls") or [])
    )
    return deltas
