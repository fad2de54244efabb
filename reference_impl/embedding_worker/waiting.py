"""How the worker waits: for a job notification, a timeout or ``stop``, whichever comes first.

An idle worker waits for ``write_chunk``'s notification (or its poll interval); a failing one
sleeps out its back-off; the queue gauges sleep between measurements. Setting ``stop`` ends
every wait at once, so SIGINT/SIGTERM never wait out a poll interval or a back-off.
"""

from __future__ import annotations

import asyncio
import contextlib

from psycopg import AsyncConnection
from psycopg.rows import TupleRow


async def forget_notifications(conn: AsyncConnection[TupleRow]) -> None:
    """Drop the notifications received so far: the batch about to run sees their jobs."""
    async for _ in conn.notifies(timeout=0):
        pass


async def wait_for_jobs(
    conn: AsyncConnection[TupleRow], timeout_s: float, stop: asyncio.Event
) -> None:
    """Return at the first notification of a new job, after ``timeout_s``, or at ``stop``."""
    notified = asyncio.create_task(_next_notification(conn, timeout_s))
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait((notified, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (notified, stopped):
            task.cancel()
        await asyncio.wait((notified, stopped))
    if not notified.cancelled() and (error := notified.exception()) is not None:
        raise error


async def _next_notification(conn: AsyncConnection[TupleRow], timeout_s: float) -> None:
    async for _ in conn.notifies(timeout=timeout_s, stop_after=1):
        break


async def sleep_unless_stopped(stop: asyncio.Event, delay_s: float) -> None:
    """Sleep ``delay_s``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay_s)
