"""Lua scripts registered once per Redis client, for the patterns that keep state in Redis."""

from __future__ import annotations

import redis.asyncio as redis
from redis.commands.core import AsyncScript


class Scripts:
    """``scripts(client, source)``: the script object of ``source`` on ``client``, made once
    (redis-py then runs it by its SHA and loads it again after a Redis restart)."""

    def __init__(self) -> None:
        self._client: redis.Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}

    def __call__(self, client: redis.Redis, source: str) -> AsyncScript:
        if client is not self._client:
            self._client, self._scripts = client, {}
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = client.register_script(source)
        return script
