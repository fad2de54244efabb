"""The leased semaphore: caps per tenant and overall, leases, waiting, the local fallback."""

import asyncio
import logging
import random

import pytest
from fake_clock import FakeClock
from fakeredis import FakeServer
from fakeredis.aioredis import FakeRedis
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.limiter import ConcurrencyLimiter, OverCapacity, Slot
from reference_impl.redis_link import RedisLink


PREFIX = "meltproof:limit"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def link(fake, clock):
    return RedisLink(fake, timeout_s=1.0, clock=clock)


@pytest.fixture
def limiter(link, clock):
    return ConcurrencyLimiter(link, global_cap=None, lease_s=30.0, clock=clock)


async def test_a_tenant_gets_no_more_than_its_cap(limiter):
    held = [await limiter.acquire("a", 2) for _ in range(2)]
    with pytest.raises(OverCapacity) as refused:
        await limiter.acquire("a", 2)
    assert refused.value.scope == "tenant"
    assert refused.value.retry_after_s == 1.0
    assert [slot.scope_used for slot in held] == ["redis", "redis"]
    assert await limiter.in_use("a") == 2


async def test_tenants_have_caps_of_their_own(limiter):
    await limiter.acquire("a", 1)
    slot = await limiter.acquire("b", 1)
    assert slot.scope_used == "redis"
    assert await limiter.in_use("b") == 1


async def test_the_global_cap_counts_every_tenant(link, clock):
    limiter = ConcurrencyLimiter(link, global_cap=2, clock=clock, retry_after_s=3.0)
    await limiter.acquire("a", 5)
    await limiter.acquire("b", 5)
    with pytest.raises(OverCapacity) as refused:
        await limiter.acquire("c", 5)
    assert refused.value.scope == "global"
    assert refused.value.retry_after_s == 3.0


async def test_the_global_cap_applies_to_tenants_without_a_cap(link, clock):
    limiter = ConcurrencyLimiter(link, global_cap=1, clock=clock)
    await limiter.acquire("a", None)
    with pytest.raises(OverCapacity, match="global"):
        await limiter.acquire("b", None)


async def test_a_global_refusal_leaves_no_tenant_slot_held(link, clock):
    limiter = ConcurrencyLimiter(link, global_cap=1, clock=clock)
    other = await limiter.acquire("a", 5)
    with pytest.raises(OverCapacity, match="global"):
        await limiter.acquire("b", 1)
    assert await limiter.in_use("b") == 0
    await other.release()
    slot = await limiter.acquire("b", 1)  # b's one tenant slot is still free
    assert slot.scope_used == "redis"


async def test_release_frees_the_slot_once(limiter):
    first = await limiter.acquire("a", 2)
    await limiter.acquire("a", 2)
    await first.release()
    await first.release()
    await limiter.acquire("a", 2)
    with pytest.raises(OverCapacity):
        await limiter.acquire("a", 2)
    assert await limiter.in_use("a") == 2


async def test_async_with_releases_the_slot(limiter):
    async with await limiter.acquire("a", 1) as slot:
        assert await limiter.in_use("a") == 1
        assert slot.scope_used == "redis"
    assert await limiter.in_use("a") == 0


async def test_without_caps_the_slot_is_a_no_op(limiter, fake):
    slot = await limiter.acquire("a", None)
    assert type(slot) is Slot
    assert slot.scope_used == "none"
    assert await fake.keys("*") == []
    await slot.release()


async def test_keys_expire_when_idle(limiter, fake):
    await limiter.acquire("a", 1)
    ttl_ms = await fake.pttl(f"{PREFIX}:tenant:a")
    assert 0 < ttl_ms <= 30_000


async def test_an_expired_lease_frees_its_slot(limiter, clock):
    await limiter.acquire("a", 1)  # its worker dies: never released, never renewed
    clock.advance(29.999)
    with pytest.raises(OverCapacity):
        await limiter.acquire("a", 1)
    clock.advance(0.001)
    assert await limiter.in_use("a") == 0
    slot = await limiter.acquire("a", 1)
    assert slot.scope_used == "redis"


async def test_renewal_keeps_a_long_holder_past_its_first_lease(limiter, clock):
    slot = await limiter.acquire("a", 1)
    for _ in range(4):
        clock.advance(20.0)
        assert await slot.renew()
    with pytest.raises(OverCapacity):
        await limiter.acquire("a", 1)
    clock.advance(30.0)  # renewals stop: the lease runs out
    assert await limiter.in_use("a") == 0


async def test_renewing_a_lost_lease_reports_it(limiter, clock):
    slot = await limiter.acquire("a", 1)
    clock.advance(30.0)
    await limiter.acquire("a", 1)  # the slot went to someone else
    assert not await slot.renew()
    assert await limiter.in_use("a") == 1


async def test_renewing_after_the_lease_ran_out_reports_it(limiter, clock):
    slot = await limiter.acquire("a", 1)
    clock.advance(30.0)
    assert not await slot.renew()
    assert await limiter.in_use("a") == 0


async def test_renewing_a_released_slot_reports_it(limiter):
    slot = await limiter.acquire("a", 1)
    await slot.release()
    assert not await slot.renew()
    assert await limiter.in_use("a") == 0


async def test_a_timer_renews_the_lease_while_the_slot_is_held(link, clock, fake):
    limiter = ConcurrencyLimiter(link, lease_s=0.03, clock=clock)  # renews every 10 ms
    slot = await limiter.acquire("a", 1)
    clock.advance(0.02)
    renewed_expiry_ms = round(clock() * 1000) + 30
    expiry_ms = None
    for _ in range(500):  # bounded: fails rather than hangs if the timer never fires
        await asyncio.sleep(0.005)
        (_, expiry_ms), *_ = await fake.zrange(f"{PREFIX}:tenant:a", 0, 0, withscores=True)
        if expiry_ms == renewed_expiry_ms:
            break
    assert expiry_ms == renewed_expiry_ms
    await slot.release()


def seeded_rng() -> random.Random:
    return random.Random(7)  # noqa: S311 - wait jitter, not crypto


class FakeSleep:
    """Sleeps by moving the clock; can release a slot after a number of sleeps."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.slept_s: list[float] = []
        self.release_after: tuple[int, Slot] | None = None

    async def __call__(self, seconds: float) -> None:
        self.slept_s.append(seconds)
        self.clock.advance(seconds)
        if self.release_after and len(self.slept_s) == self.release_after[0]:
            await self.release_after[1].release()


async def test_a_bounded_wait_gets_a_slot_freed_during_it(link, clock):
    sleep = FakeSleep(clock)
    limiter = ConcurrencyLimiter(link, wait_s=1.0, clock=clock, sleep=sleep, rng=seeded_rng())
    holder = await limiter.acquire("a", 1)
    sleep.release_after = (3, holder)
    slot = await limiter.acquire("a", 1)
    assert slot.scope_used == "redis"
    assert len(sleep.slept_s) == 3
    assert all(0.010 <= slept <= 0.050 for slept in sleep.slept_s)


async def test_a_bounded_wait_gives_up_when_it_is_spent(link, clock):
    sleep = FakeSleep(clock)
    limiter = ConcurrencyLimiter(link, wait_s=0.5, clock=clock, sleep=sleep, rng=seeded_rng())
    await limiter.acquire("a", 1)
    with pytest.raises(OverCapacity, match="tenant"):
        await limiter.acquire("a", 1)
    assert sum(sleep.slept_s) == pytest.approx(0.5)
    assert len(sleep.slept_s) >= 10


async def test_without_a_wait_the_refusal_is_immediate(link, clock):
    sleep = FakeSleep(clock)
    limiter = ConcurrencyLimiter(link, clock=clock, sleep=sleep)
    await limiter.acquire("a", 1)
    with pytest.raises(OverCapacity):
        await limiter.acquire("a", 1)
    assert sleep.slept_s == []


async def test_without_redis_each_worker_takes_its_share_of_the_caps(link, clock, server, caplog):
    server.connected = False
    limiter = ConcurrencyLimiter(link, global_cap=10, workers=3, clock=clock)
    with caplog.at_level(logging.WARNING, logger="reference_impl.limiter"):
        held = [await limiter.acquire("a", 5) for _ in range(2)]  # ceil(5 / 3) == 2
        with pytest.raises(OverCapacity, match="tenant"):
            await limiter.acquire("a", 5)
        held += [await limiter.acquire("b", None) for _ in range(2)]  # ceil(10 / 3) == 4
        with pytest.raises(OverCapacity, match="global"):
            await limiter.acquire("c", None)
    assert {slot.scope_used for slot in held} == {"local"}
    limiter_records = [r for r in caplog.records if r.name == "reference_impl.limiter"]
    assert len(limiter_records) == 1
    await held[0].release()
    await held[0].release()
    await limiter.acquire("a", 5)
    with pytest.raises(OverCapacity):
        await limiter.acquire("c", None)


async def test_when_redis_returns_slots_are_shared_again(link, clock, server):
    server.connected = False
    limiter = ConcurrencyLimiter(link, workers=2, clock=clock)
    local = await limiter.acquire("a", 2)
    server.connected = True
    clock.advance(link.cooldown_s)
    shared = await limiter.acquire("a", 2)
    assert (local.scope_used, shared.scope_used) == ("local", "redis")
    await local.release()
    assert await limiter.in_use("a") == 1
    server.connected = False
    clock.advance(link.cooldown_s)
    local_again = await limiter.acquire("a", 2)  # the local share (1) is free again
    assert local_again.scope_used == "local"


async def test_release_survives_redis_failing(limiter, server):
    slot = await limiter.acquire("a", 1)
    server.connected = False
    await slot.release()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"global_cap": -1}, "global_cap"),
        ({"lease_s": 0.0}, "lease_s"),
        ({"wait_s": -1.0}, "wait_s"),
        ({"workers": 0}, "workers"),
    ],
)
def test_bad_options_are_refused(link, options, field):
    with pytest.raises(ValueError, match=field):
        ConcurrencyLimiter(link, **options)


# Property: several workers sharing one Redis never let more holders live than the caps allow,
# and never refuse a slot that is free.

CAPS = {"a": 2, "b": 3, "c": None}
GLOBAL_CAP = 4
LEASE_MS = 600_000  # long in real time, so no renewal timer fires during an example
WORKERS = 3

worker_ids = st.integers(0, WORKERS - 1)
tenants = st.sampled_from(sorted(CAPS))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("acquire"), worker_ids, tenants),
        st.tuples(
            st.just("burst"), st.lists(st.tuples(worker_ids, tenants), min_size=2, max_size=6)
        ),
        st.tuples(st.just("release"), st.integers(0, 20)),
        st.tuples(st.just("renew"), st.integers(0, 20)),
        st.tuples(st.just("advance"), st.integers(1, LEASE_MS)),
    ),
    max_size=30,
)


class Holder:
    def __init__(self, slot: Slot, tenant: str, expiry_ms: int) -> None:
        self.slot = slot
        self.tenant = tenant
        self.expiry_ms = expiry_ms


class Workers:
    """Limiters of several workers on one Redis, and the holders the test knows of."""

    def __init__(self, server: FakeServer) -> None:
        self.now_ms = 1_000_000
        self.holders: list[Holder] = []
        self.clients = [FakeRedis(server=server) for _ in range(WORKERS)]
        self.limiters = [
            ConcurrencyLimiter(
                RedisLink(client, timeout_s=1.0),
                global_cap=GLOBAL_CAP,
                lease_s=LEASE_MS / 1000,
                clock=lambda: self.now_ms / 1000,
            )
            for client in self.clients
        ]

    def live(self, tenant: str | None = None) -> int:
        return sum(
            1
            for holder in self.holders
            if holder.expiry_ms > self.now_ms and tenant in (None, holder.tenant)
        )

    def full_scope(self, tenant: str) -> str | None:
        cap = CAPS[tenant]
        if cap is not None and self.live(tenant) >= cap:
            return "tenant"
        if self.live() >= GLOBAL_CAP:
            return "global"
        return None

    async def acquire(self, worker: int, tenant: str) -> str | None:
        """Acquire a slot; None when held, else the scope that refused."""
        try:
            slot = await self.limiters[worker].acquire(tenant, CAPS[tenant])
        except OverCapacity as refused:
            return refused.scope
        self.holders.append(Holder(slot, tenant, self.now_ms + LEASE_MS))
        return None

    async def burst(self, requests: list[tuple[int, str]]) -> None:
        refusals = await asyncio.gather(*(self.acquire(*request) for request in requests))
        for (_, tenant), refused in zip(requests, refusals, strict=True):
            if refused is not None:  # refused only because it was full
                assert self.full_scope(tenant) is not None

    async def renew(self, holder: Holder) -> None:
        alive = holder.expiry_ms > self.now_ms
        assert await holder.slot.renew() == alive
        if alive:
            holder.expiry_ms = self.now_ms + LEASE_MS

    async def check(self) -> None:
        """Redis counts what the test counts, and that is within the caps."""
        for tenant, cap in CAPS.items():
            if cap is not None:
                assert await self.limiters[0].in_use(tenant) == self.live(tenant) <= cap
        live_in_redis = await self.clients[0].zcount(f"{PREFIX}:global", f"({self.now_ms}", "+inf")
        assert live_in_redis == self.live() <= GLOBAL_CAP


async def run_limiter_operations(steps) -> None:
    workers = Workers(FakeServer())
    try:
        for step in steps:
            match step:
                case ("acquire", worker, tenant):
                    expected = workers.full_scope(tenant)
                    assert await workers.acquire(worker, tenant) == expected
                case ("burst", requests):
                    await workers.burst(requests)
                case ("release", index) if workers.holders:
                    await workers.holders.pop(index % len(workers.holders)).slot.release()
                case ("renew", index) if workers.holders:
                    await workers.renew(workers.holders[index % len(workers.holders)])
                case ("advance", ms):
                    workers.now_ms += ms
            await workers.check()
    finally:
        for client in workers.clients:
            await client.aclose()


@settings(max_examples=60, deadline=None)
@given(operations)
def test_workers_sharing_redis_never_exceed_the_caps(steps):
    asyncio.run(run_limiter_operations(steps))
