"""The caps: the instance's slot table and the leased semaphore in Redis; caps per tenant and
overall, leases, waiting, Redis failing and coming back, releases Redis missed."""

import asyncio
import logging
import random
import tempfile
from contextlib import ExitStack
from pathlib import Path

import pytest
from fake_clock import FakeClock
from fakeredis import FakeServer
from fakeredis.aioredis import FakeRedis
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl import limiter as limiter_module
from reference_impl.limiter import ConcurrencyLimiter, OverCapacity, Slot, table_columns
from reference_impl.redis_link import RedisLink
from reference_impl.slot_table import SlotTable


PREFIX = "meltproof:limit"
COLUMNS = table_columns(["a", "b", "c"])


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def link(fake, clock):
    return RedisLink(fake, timeout_s=1.0, clock=clock)


def new_limiter(link, table=None, **options):
    """A limiter that shares its caps through Redis, with a table of its own (an instance of
    one worker) unless given one."""
    options = {"shared": True, **options}
    return ConcurrencyLimiter(link, table or SlotTable.in_memory(COLUMNS), **options)


@pytest.fixture
def limiter(link, clock):
    return new_limiter(link, global_cap=None, lease_s=30.0, clock=clock)


@pytest.fixture
def other_instance(link, clock):
    """A limiter of another gateway instance on the same Redis."""
    return new_limiter(link, global_cap=None, lease_s=30.0, clock=clock)


@pytest.fixture
def instance(tmp_path):
    """The slot table file of an instance of two workers; ``instance(row)`` opens a row."""
    path = tmp_path / "slots"
    SlotTable.create(path, COLUMNS, rows=2)
    with ExitStack() as opened:

        def row(index):
            table = SlotTable.open(path, COLUMNS, row=index)
            opened.callback(table.close)
            return table

        yield row


class StallingRedis(FakeRedis):
    """Runs scripts, then (while ``stall``) never answers: a reply lost after the fact."""

    stall = False

    async def evalsha(self, *args, **kwargs):
        result = await super().evalsha(*args, **kwargs)
        if self.stall:
            await asyncio.Event().wait()
        return result


async def take_all(limiter, tenant, cap):
    """Acquire until refused; the slots held."""
    held = []
    while True:
        try:
            held.append(await limiter.acquire(tenant, cap))
        except OverCapacity:
            return held


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
    limiter = new_limiter(link, global_cap=2, clock=clock, retry_after_s=3.0)
    await limiter.acquire("a", 5)
    await limiter.acquire("b", 5)
    with pytest.raises(OverCapacity) as refused:
        await limiter.acquire("c", 5)
    assert refused.value.scope == "global"
    assert refused.value.retry_after_s == 3.0


async def test_the_global_cap_applies_to_tenants_without_a_cap(link, clock):
    limiter = new_limiter(link, global_cap=1, clock=clock)
    await limiter.acquire("a", None)
    with pytest.raises(OverCapacity, match="global"):
        await limiter.acquire("b", None)


async def test_a_global_refusal_leaves_no_tenant_slot_held(link, clock):
    limiter = new_limiter(link, global_cap=1, clock=clock)
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


async def test_an_expired_lease_frees_its_slot(limiter, other_instance, clock):
    await other_instance.acquire("a", 1)  # its instance dies: never released, never renewed
    clock.advance(29.999)
    with pytest.raises(OverCapacity):
        await limiter.acquire("a", 1)
    clock.advance(0.001)
    assert await limiter.in_use("a") == 0
    slot = await limiter.acquire("a", 1)
    assert slot.scope_used == "redis"


async def test_in_its_instance_a_held_slot_counts_after_its_lease_ran_out(limiter, clock):
    await limiter.acquire("a", 1)
    clock.advance(30.0)  # not renewed (Redis did not answer): Redis has let it go
    assert await limiter.in_use("a") == 0
    with pytest.raises(OverCapacity, match="tenant"):
        await limiter.acquire("a", 1)  # its request is still in flight


async def test_renewal_keeps_a_long_holder_past_its_first_lease(limiter, other_instance, clock):
    slot = await limiter.acquire("a", 1)
    for _ in range(4):
        clock.advance(20.0)
        assert await slot.renew()
    with pytest.raises(OverCapacity):
        await other_instance.acquire("a", 1)
    clock.advance(30.0)  # renewals stop: the lease runs out
    assert await limiter.in_use("a") == 0


async def test_renewing_a_lost_lease_reports_it(limiter, other_instance, clock):
    slot = await limiter.acquire("a", 1)
    clock.advance(30.0)
    await other_instance.acquire("a", 1)  # the slot went to someone else
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
    limiter = new_limiter(link, lease_s=0.03, clock=clock)  # renews every 10 ms
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
    limiter = new_limiter(link, wait_s=1.0, clock=clock, sleep=sleep, rng=seeded_rng())
    holder = await limiter.acquire("a", 1)
    sleep.release_after = (3, holder)
    slot = await limiter.acquire("a", 1)
    assert slot.scope_used == "redis"
    assert len(sleep.slept_s) == 3
    assert all(0.010 <= slept <= 0.050 for slept in sleep.slept_s)


async def test_a_bounded_wait_gives_up_when_it_is_spent(link, clock):
    sleep = FakeSleep(clock)
    limiter = new_limiter(link, wait_s=0.5, clock=clock, sleep=sleep, rng=seeded_rng())
    await limiter.acquire("a", 1)
    with pytest.raises(OverCapacity, match="tenant"):
        await limiter.acquire("a", 1)
    assert sum(sleep.slept_s) == pytest.approx(0.5)
    assert len(sleep.slept_s) >= 10


async def test_without_a_wait_the_refusal_is_immediate(link, clock):
    sleep = FakeSleep(clock)
    limiter = new_limiter(link, clock=clock, sleep=sleep)
    await limiter.acquire("a", 1)
    with pytest.raises(OverCapacity):
        await limiter.acquire("a", 1)
    assert sleep.slept_s == []


async def test_without_redis_the_instance_holds_its_share_of_the_caps(link, clock, server, caplog):
    server.connected = False
    limiter = new_limiter(link, global_cap=10, instances=3, clock=clock)
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


async def test_with_redis_an_instance_keeps_to_its_share_too(link, clock):
    limiter = new_limiter(link, instances=2, clock=clock)
    held = await take_all(limiter, "a", 4)
    assert [slot.scope_used for slot in held] == ["redis", "redis"]  # ceil(4 / 2)
    assert await limiter.in_use("a") == 2


async def test_when_redis_returns_slots_are_shared_again(link, clock, server):
    server.connected = False
    limiter = new_limiter(link, clock=clock)
    local = await limiter.acquire("a", 2)
    server.connected = True
    clock.advance(link.cooldown_s)
    shared = await limiter.acquire("a", 2)
    assert (local.scope_used, shared.scope_used) == ("local", "redis")
    assert await limiter.in_use("a") == 1
    with pytest.raises(OverCapacity, match="tenant"):
        await limiter.acquire("a", 2)  # Redis has room, the instance does not: 2 in flight
    await local.release()
    assert await limiter.in_use("a") == 1
    server.connected = False
    local_again = await limiter.acquire("a", 2)
    assert local_again.scope_used == "local"


async def test_workers_of_an_instance_never_add_local_slots_to_those_held_in_redis(
    server, clock, instance
):
    links = [RedisLink(FakeRedis(server=server), timeout_s=1.0, clock=clock) for _ in range(2)]
    first, second = (
        new_limiter(link, instance(row), clock=clock) for row, link in enumerate(links)
    )
    in_redis = [await first.acquire("a", 4) for _ in range(3)]
    server.connected = False  # the first worker holds more than half the cap in Redis
    assert [slot.scope_used for slot in await take_all(second, "a", 4)] == ["local"]
    assert await take_all(first, "a", 4) == []
    server.connected = True
    clock.advance(links[0].cooldown_s)
    assert await take_all(first, "a", 4) == []  # Redis counts 3 of 4; the instance has 4
    await in_redis[0].release()
    assert [slot.scope_used for slot in await take_all(second, "a", 4)] == ["redis"]
    for link in links:
        await link.client.aclose()


async def test_one_instance_holds_its_caps_in_its_table_alone(link, fake, clock):
    limiter = ConcurrencyLimiter(link, SlotTable.in_memory(COLUMNS), global_cap=3, clock=clock)
    held = await take_all(limiter, "a", 2)
    held += await take_all(limiter, "b", None)
    with pytest.raises(OverCapacity, match="global"):
        await limiter.acquire("c", None)
    assert [slot.scope_used for slot in held] == ["table"] * 3
    assert await fake.keys("*") == []  # no Redis round trip, taking or giving back
    await held[0].release()
    assert (await limiter.acquire("a", 2)).scope_used == "table"
    assert await fake.keys("*") == []


async def test_one_instance_keeps_its_caps_exact_whatever_redis_does(link, clock, server, caplog):
    limiter = ConcurrencyLimiter(link, SlotTable.in_memory(COLUMNS), clock=clock)
    first = await limiter.acquire("a", 2)
    server.connected = False
    with caplog.at_level(logging.WARNING, logger="reference_impl.limiter"):
        second = await limiter.acquire("a", 2)  # the whole cap, not a share of it
        with pytest.raises(OverCapacity, match="tenant"):
            await limiter.acquire("a", 2)
    assert [r for r in caplog.records if r.name == "reference_impl.limiter"] == []
    server.connected = True
    await first.release()
    assert (await limiter.acquire("a", 2)).scope_used == "table"
    await second.release()


async def test_the_workers_of_one_instance_share_its_caps_through_the_table(link, instance):
    first, second = (ConcurrencyLimiter(link, instance(row)) for row in range(2))
    held = [await first.acquire("a", 3), await second.acquire("a", 3), await first.acquire("a", 3)]
    with pytest.raises(OverCapacity, match="tenant"):
        await second.acquire("a", 3)
    await held[0].release()
    assert (await second.acquire("a", 3)).scope_used == "table"


async def test_several_instances_share_their_caps_through_redis_by_default(link, clock):
    limiter = ConcurrencyLimiter(link, SlotTable.in_memory(COLUMNS), instances=2, clock=clock)
    assert limiter.shared
    slot = await limiter.acquire("a", 4)
    assert slot.scope_used == "redis"
    assert await limiter.in_use("a") == 1


async def test_release_survives_redis_failing(limiter, server):
    slot = await limiter.acquire("a", 1)
    server.connected = False
    await slot.release()


async def test_a_release_redis_missed_is_sent_once_it_answers_again(limiter, link, clock, server):
    slot = await limiter.acquire("a", 2)
    server.connected = False
    await slot.release()
    assert limiter.kept_releases == 1
    server.connected = True
    clock.advance(link.cooldown_s)
    assert await limiter.in_use("a") == 1  # still in Redis, until the next acquire sends it
    held = await take_all(limiter, "a", 2)
    assert [slot.scope_used for slot in held] == ["redis", "redis"]
    assert limiter.kept_releases == 0


async def test_an_acquire_whose_answer_was_lost_is_given_back(server, clock):
    client = StallingRedis(server=server)
    link = RedisLink(client, timeout_s=0.01, clock=clock)  # the stall always outlasts it
    limiter = new_limiter(link, clock=clock)
    client.stall = True
    slot = await limiter.acquire("a", 2)
    assert slot.scope_used == "local"
    assert limiter.kept_releases == 1
    await slot.release()
    client.stall = False
    clock.advance(link.cooldown_s)
    assert await limiter.in_use("a") == 1  # the script ran: the lost acquire holds a slot
    held = await take_all(limiter, "a", 2)
    assert [slot.scope_used for slot in held] == ["redis", "redis"]
    await client.aclose()


async def test_a_cancelled_acquire_leaves_nothing_held(server, clock, fake):
    client = StallingRedis(server=server)
    limiter = new_limiter(RedisLink(client, timeout_s=60.0, clock=clock), clock=clock)
    client.stall = True
    waiting = asyncio.create_task(limiter.acquire("a", 1))
    for _ in range(1000):  # until the acquire script has run
        await asyncio.sleep(0)
        if await fake.zcard(f"{PREFIX}:tenant:a"):
            break
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    client.stall = False
    assert [slot.scope_used for slot in await take_all(limiter, "a", 1)] == ["redis"]
    await client.aclose()


async def test_kept_releases_are_sent_on_a_timer(server, clock, fake):
    link = RedisLink(FakeRedis(server=server), timeout_s=1.0, cooldown_s=0.01, clock=clock)
    limiter = new_limiter(link, clock=clock)
    slot = await limiter.acquire("a", 1)
    server.connected = False
    await slot.release()
    server.connected = True
    clock.advance(link.cooldown_s)
    for _ in range(500):  # bounded: fails rather than hangs if no timer sends it
        if not limiter.kept_releases:
            break
        await asyncio.sleep(0.01)
    assert limiter.kept_releases == 0
    assert await fake.zcard(f"{PREFIX}:tenant:a") == 0
    await limiter.close()
    await link.client.aclose()


async def test_kept_releases_whose_lease_has_run_out_are_dropped(limiter, clock, server):
    slot = await limiter.acquire("a", 1)
    server.connected = False
    await slot.release()
    clock.advance(30.0)  # the lease has freed the slot in Redis
    await limiter.resend_releases()  # nothing left to send: Redis, still down, is not asked
    assert limiter.kept_releases == 0


async def test_kept_releases_are_bounded(limiter, server, monkeypatch):
    monkeypatch.setattr(limiter_module, "KEPT_RELEASES", 3)
    held = [await limiter.acquire("a", 5) for _ in range(5)]
    server.connected = False
    for slot in held:
        await slot.release()
    assert limiter.kept_releases == 3


async def test_close_sends_the_kept_releases(limiter, link, clock, server, fake):
    slot = await limiter.acquire("a", 1)
    server.connected = False
    await slot.release()
    server.connected = True
    clock.advance(link.cooldown_s)
    await limiter.close()
    assert await fake.zcard(f"{PREFIX}:tenant:a") == 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"global_cap": -1}, "global_cap"),
        ({"lease_s": 0.0}, "lease_s"),
        ({"wait_s": -1.0}, "wait_s"),
        ({"instances": 0}, "instances"),
    ],
)
def test_bad_options_are_refused(link, options, field):
    with pytest.raises(ValueError, match=field):
        new_limiter(link, **options)


# Properties of the workers of one instance, sharing its slot table and one Redis: they never
# let more requests hold slots than the caps allow; with Redis answering, they never refuse a
# slot that is free; whatever Redis does, they never hold more than the caps, and once it
# answers again nothing their finished requests held is still counted.

CAPS = {"a": 2, "b": 3, "c": None}
GLOBAL_CAP = 4
LEASE_MS = 600_000  # long in real time, so no renewal timer fires during an example
COOLDOWN_MS = 1_000
WORKERS = 3

worker_ids = st.integers(0, WORKERS - 1)
tenants = st.sampled_from(sorted(CAPS))
acquires = st.tuples(st.just("acquire"), worker_ids, tenants)
releases = st.tuples(st.just("release"), st.integers(0, 20))
advances = st.tuples(st.just("advance"), st.integers(1, LEASE_MS))
operations = st.lists(
    st.one_of(
        acquires,
        st.tuples(
            st.just("burst"), st.lists(st.tuples(worker_ids, tenants), min_size=2, max_size=6)
        ),
        releases,
        st.tuples(st.just("renew"), st.integers(0, 20)),
        advances,
    ),
    max_size=30,
)
short_advances = st.tuples(st.just("advance"), st.integers(1, 2 * COOLDOWN_MS))  # leases run
operations_with_outages = st.lists(
    st.one_of(acquires, releases, short_advances, st.just(("cut",)), st.just(("restore",))),
    max_size=30,
)


class Holder:
    def __init__(self, slot: Slot, tenant: str, expiry_ms: int) -> None:
        self.slot = slot
        self.tenant = tenant
        self.expiry_ms = expiry_ms


class Workers:
    """The limiters of an instance's workers, and the holders the test knows of."""

    def __init__(self, server: FakeServer, directory: Path) -> None:
        self.server = server
        self.now_ms = 1_000_000
        self.holders: list[Holder] = []
        table = directory / "slots"
        SlotTable.create(table, COLUMNS, rows=WORKERS)
        self.clients = [FakeRedis(server=server) for _ in range(WORKERS)]
        self.tables = [SlotTable.open(table, COLUMNS, row=row) for row in range(WORKERS)]
        self.limiters = [
            ConcurrencyLimiter(
                RedisLink(client, timeout_s=1.0, cooldown_s=COOLDOWN_MS / 1000, clock=self.clock),
                table,
                global_cap=GLOBAL_CAP,
                lease_s=LEASE_MS / 1000,
                shared=True,
                clock=self.clock,
            )
            for client, table in zip(self.clients, self.tables, strict=True)
        ]

    def clock(self) -> float:
        return self.now_ms / 1000

    def held(self, tenant: str | None = None) -> int:
        """Slots held: requests in flight."""
        return sum(1 for holder in self.holders if tenant in (None, holder.tenant))

    def live(self, tenant: str | None = None) -> int:
        """Slots held whose lease in Redis still runs."""
        return sum(
            1
            for holder in self.holders
            if holder.expiry_ms > self.now_ms and tenant in (None, holder.tenant)
        )

    def full_scope(self, tenant: str) -> str | None:
        cap = CAPS[tenant]
        if cap is not None and self.held(tenant) >= cap:
            return "tenant"
        if self.held() >= GLOBAL_CAP:
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

    def check_held(self) -> None:
        """The table counts the slots held, and that is within the caps."""
        table = self.tables[0]
        for tenant, cap in CAPS.items():
            if cap is not None:
                assert table.held(f"tenant:{tenant}") == self.held(tenant) <= cap
        assert table.held("global") == self.held() <= GLOBAL_CAP

    async def check_redis(self) -> None:
        """Redis counts the live slots, and that is within the caps."""
        for tenant, cap in CAPS.items():
            if cap is not None:
                assert await self.limiters[0].in_use(tenant) == self.live(tenant) <= cap
        live_in_redis = await self.clients[0].zcount(f"{PREFIX}:global", f"({self.now_ms}", "+inf")
        assert live_in_redis == self.live() <= GLOBAL_CAP

    def restore(self) -> None:
        self.server.connected = True
        self.now_ms += COOLDOWN_MS

    async def close(self) -> None:
        for limiter in self.limiters:
            await limiter.close()
        for client in self.clients:
            await client.aclose()


async def run_limiter_operations(steps) -> None:
    with tempfile.TemporaryDirectory() as directory:
        workers = Workers(FakeServer(), Path(directory))
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
                workers.check_held()
                await workers.check_redis()
        finally:
            await workers.close()


@settings(max_examples=60, deadline=None)
@given(operations)
def test_workers_sharing_redis_never_exceed_the_caps(steps):
    asyncio.run(run_limiter_operations(steps))


async def run_through_outages(steps) -> None:
    with tempfile.TemporaryDirectory() as directory:
        workers = Workers(FakeServer(), Path(directory))
        try:
            for step in steps:
                match step:
                    case ("acquire", worker, tenant):
                        expected = workers.full_scope(tenant)
                        refused = await workers.acquire(worker, tenant)
                        if not workers.server.connected:  # the table alone decides
                            assert refused == expected
                    case ("release", index) if workers.holders:
                        await workers.holders.pop(index % len(workers.holders)).slot.release()
                    case ("advance", ms):
                        workers.now_ms += ms
                    case ("cut",):
                        workers.server.connected = False
                    case ("restore",):
                        workers.restore()
                workers.check_held()
            workers.restore()
            while workers.holders:
                await workers.holders.pop().slot.release()
            for limiter in workers.limiters:
                await limiter.resend_releases()
            for tenant, cap in CAPS.items():  # none of the finished requests is still counted
                held = await take_all(workers.limiters[0], tenant, cap)
                assert [slot.scope_used for slot in held] == ["redis"] * min(cap or 9, GLOBAL_CAP)
                for slot in held:
                    await slot.release()
        finally:
            await workers.close()


@settings(max_examples=60, deadline=None)
@given(operations_with_outages)
def test_an_instance_never_exceeds_the_caps_whatever_redis_does(steps):
    asyncio.run(run_through_outages(steps))
