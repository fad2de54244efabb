"""Lua scripts registered once per Redis link, for the patterns that keep state in Redis."""

from __future__ import annotations

from .redis_link import RedisLink, Script


class Scripts:
    """``scripts(source)``: the script object of ``source`` on ``link``, made once (it runs
    by its SHA and is loaded again after a Redis restart), on the link's wire if it has one.

    The ``sources`` a pattern will run are declared to the link, which loads them into Redis
    when the gateway starts (``RedisLink.warm_up``)."""

    def __init__(self, link: RedisLink, *sources: str) -> None:
        self._link = link
        self._scripts: dict[str, Script] = {}
        link.declare_scripts(*sources)

    def __call__(self, source: str) -> Script:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self._link.register_script(source)
        return script
