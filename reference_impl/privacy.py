"""Raw prompts are never logged; they are stored only for tenants that consent.

Request log lines carry ``request_log_fields``: tenant, prompt fingerprint, model, status,
cache result and duration, and no parameter through which a prompt could leak.

``PromptStore`` keeps raw prompts of consenting tenants (from configuration) as JSON lines
``{"ts": <unix seconds>, "tenant", "fingerprint", "messages"}`` in ``<directory>/<tenant>.jsonl``,
readable by the gateway's user only. The hot path only puts a serialised line into a
bounded queue; one background task drains it and appends in a worker thread, so no request
waits on the disk. When the queue is full the prompt is dropped and counted, never waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final


log = logging.getLogger(__name__)

MAX_BATCH: Final = 500
_SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


class PromptStore:
    """Appends consenting tenants' prompts to per-tenant JSON-lines files, off the hot path.

    ``dropped`` counts prompts accepted for storage but not written: the queue was full,
    or a write failed.
    """

    def __init__(
        self,
        directory: Path | None,
        *,
        consenting: frozenset[str],
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        unsafe = sorted(name for name in consenting if not _SAFE_FILE_NAME.fullmatch(name))
        if unsafe:
            raise ValueError(f"tenant names unusable as file names: {', '.join(unsafe)}")
        self.directory = directory
        self.consenting = consenting
        self.dropped = 0
        self._clock = clock
        self._queue: asyncio.Queue[tuple[Path, str]] = asyncio.Queue(maxsize=max_pending)
        self._writer: asyncio.Task[None] | None = None

    def offer(
        self, *, tenant: str, fingerprint: str, messages: Sequence[Mapping[str, Any]]
    ) -> bool:
        """Queue the prompt for storage; ``False`` without consent, when disabled, or full."""
        if self.directory is None or tenant not in self.consenting:
            return False
        record = {
            "ts": self._clock(),
            "tenant": tenant,
            "fingerprint": fingerprint,
            "messages": [dict(message) for message in messages],
        }
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        try:
            self._queue.put_nowait((self.directory / f"{tenant}.jsonl", line))
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        return True

    async def start(self) -> None:
        """Start the background writer."""
        if self.directory is not None and self._writer is None:
            await asyncio.to_thread(self.directory.mkdir, mode=0o700, parents=True, exist_ok=True)
            self._writer = asyncio.create_task(self._drain(), name="prompt-store-writer")

    async def stop(self) -> None:
        """Write everything queued, then stop the background writer."""
        if self._writer is not None:
            await self._queue.join()
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        left = self._take(self._queue.qsize())
        if left:
            await self._write(left)

    async def _drain(self) -> None:
        while True:
            first = await self._queue.get()
            await self._write([first, *self._take(MAX_BATCH - 1)])

    def _take(self, limit: int) -> list[tuple[Path, str]]:
        """Up to ``limit`` queued lines, without waiting."""
        return [self._queue.get_nowait() for _ in range(min(limit, self._queue.qsize()))]

    async def _write(self, batch: list[tuple[Path, str]]) -> None:
        try:
            await asyncio.to_thread(self._append, batch)
        except OSError:
            log.exception("could not store %d prompts", len(batch))
            self.dropped += len(batch)
        finally:
            for _ in batch:
                self._queue.task_done()

    @staticmethod
    def _append(batch: list[tuple[Path, str]]) -> None:
        """Append each file's lines, creating it readable by its owner only (in a thread)."""
        lines_by_file: defaultdict[Path, list[str]] = defaultdict(list)
        for path, line in batch:
            lines_by_file[path].append(line)
        for path, lines in lines_by_file.items():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as file:
                file.writelines(lines)


def request_log_fields(
    *, tenant: str, fingerprint: str, model: str, status: int, cache: str, ms: float
) -> dict[str, Any]:
    """What a request log line carries: identifiers and outcome, never the prompt itself."""
    return {
        "tenant": tenant,
        "fingerprint": fingerprint,
        "model": model,
        "status": status,
        "cache": cache,
        "ms": round(ms, 1),
    }
