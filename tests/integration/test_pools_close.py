"""The copilot's pools close in time even when the database does not answer."""

import asyncio

from reference_impl.retrieval import Pools, PoolSettings
from stack import Toxic, links


CLOSE_BOUND_S = 5.0
"""Well under the 10 s two pools took when each waited 5 s for a worker stuck connecting."""


async def test_pools_close_in_time_while_a_connection_attempt_hangs(stack):
    hole = Toxic("hole", "timeout", attributes={"timeout": 0})
    stack.toxiproxy.add_toxic(links.POSTGRES, hole)
    settings = PoolSettings(min_size=1, connect_timeout_s=30)
    pools = await Pools.open(stack.endpoints.postgres_proxied, oltp=settings, vector=settings)
    await asyncio.sleep(0.5)  # each pool's worker is now stuck connecting
    async with asyncio.timeout(CLOSE_BOUND_S):
        await pools.close()
