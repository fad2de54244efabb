"""Token budgets: levels, the ceiling, reservations and settlement, periods, failing open."""

import asyncio
import logging

import pytest
from fake_clock import FakeClock
from fakeredis import FakeServer
from fakeredis.aioredis import FakeRedis
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.budget import (
    BudgetExhausted,
    BudgetLevel,
    BudgetPlan,
    Reservation,
    TokenBudgets,
)
from reference_impl.redis_link import RedisLink


PERIOD_S = 3600.0
PERIOD_START_S = 2 * PERIOD_S
PLAN = BudgetPlan(limit_tokens=1000, period_s=PERIOD_S)  # warn 800, hard 1000, ceiling 1200


@pytest.fixture
def clock():
    return FakeClock(PERIOD_START_S + 600.0)


@pytest.fixture
def link(fake, clock):
    return RedisLink(fake, timeout_s=1.0, clock=clock)


@pytest.fixture
def budgets(link, clock):
    return TokenBudgets(link, clock=clock)


async def spend(budgets: TokenBudgets, tokens: int, *, tenant: str = "t") -> None:
    """Settle ``tokens`` of usage, admitted as one request."""
    reservation = await budgets.admit(tenant, PLAN, prompt_tokens=tokens, max_output_tokens=0)
    await budgets.settle(reservation, used_tokens=tokens)


@pytest.mark.parametrize(
    ("spent", "level"),
    [
        (0, BudgetLevel.OK),
        (799, BudgetLevel.OK),
        (800, BudgetLevel.WARN),
        (999, BudgetLevel.WARN),
        (1000, BudgetLevel.DOWNGRADE),
        (1199, BudgetLevel.DOWNGRADE),
    ],
)
async def test_the_level_follows_the_thresholds(budgets, spent, level):
    await spend(budgets, spent)
    reservation = await budgets.admit("t", PLAN, prompt_tokens=10, max_output_tokens=100)
    assert reservation.level is level
    assert reservation.used_tokens == spent
    assert reservation.limit_tokens == 1000


async def test_below_the_hard_limit_the_request_is_unchanged(budgets):
    await spend(budgets, 999)
    reservation = await budgets.admit("t", PLAN, prompt_tokens=10, max_output_tokens=1000)
    assert (reservation.max_output_tokens, reservation.reserved_tokens) == (1000, 1010)


async def test_a_downgrade_reduces_max_output_tokens(budgets):
    await spend(budgets, 1000)
    reservation = await budgets.admit("t", PLAN, prompt_tokens=10, max_output_tokens=1000)
    assert reservation.max_output_tokens == 256
    assert reservation.reserved_tokens == 266
    assert await budgets.usage("t", PLAN) == (1000, 266)


async def test_a_downgrade_keeps_a_smaller_max_output(budgets):
    await spend(budgets, 1000)
    reservation = await budgets.admit("t", PLAN, prompt_tokens=10, max_output_tokens=100)
    assert (reservation.max_output_tokens, reservation.reserved_tokens) == (100, 110)


async def test_at_the_ceiling_requests_are_refused_until_the_period_ends(budgets):
    await spend(budgets, 1200)
    with pytest.raises(BudgetExhausted) as refused:
        await budgets.admit("t", PLAN, prompt_tokens=1, max_output_tokens=1)
    assert refused.value.tenant == "t"
    assert refused.value.used_tokens == 1200
    assert refused.value.ceiling_tokens == 1200
    assert refused.value.retry_after_s == pytest.approx(PERIOD_S - 600.0)
    assert await budgets.usage("t", PLAN) == (1200, 0)


async def test_reservations_count_against_the_thresholds_and_the_ceiling(budgets):
    first = await budgets.admit("t", PLAN, prompt_tokens=100, max_output_tokens=700)
    second = await budgets.admit("t", PLAN, prompt_tokens=100, max_output_tokens=100)
    assert (first.level, second.level) == (BudgetLevel.OK, BudgetLevel.WARN)
    assert second.used_tokens == 0
    third = await budgets.admit("t", PLAN, prompt_tokens=100, max_output_tokens=900)
    assert (third.level, third.reserved_tokens) == (BudgetLevel.DOWNGRADE, 356)
    with pytest.raises(BudgetExhausted) as refused:  # 800 + 200 + 356 reserved
        await budgets.admit("t", PLAN, prompt_tokens=1, max_output_tokens=1)
    assert refused.value.used_tokens == 1356


async def test_tenants_have_budgets_of_their_own(budgets):
    await spend(budgets, 1200, tenant="big")
    reservation = await budgets.admit("small", PLAN, prompt_tokens=1, max_output_tokens=1)
    assert reservation.level is BudgetLevel.OK


async def test_settling_replaces_the_reservation_with_the_usage_once(budgets):
    reservation = await budgets.admit("t", PLAN, prompt_tokens=100, max_output_tokens=900)
    assert reservation.reserved_tokens == 1000
    assert await budgets.usage("t", PLAN) == (0, 1000)
    await budgets.settle(reservation, used_tokens=300)
    assert await budgets.usage("t", PLAN) == (300, 0)
    await budgets.settle(reservation, used_tokens=300)
    await budgets.release(reservation)
    assert await budgets.usage("t", PLAN) == (300, 0)


async def test_releasing_drops_the_reservation_only(budgets):
    await spend(budgets, 50)
    reservation = await budgets.admit("t", PLAN, prompt_tokens=100, max_output_tokens=900)
    await budgets.release(reservation)
    assert await budgets.usage("t", PLAN) == (50, 0)
    await budgets.settle(reservation, used_tokens=300)  # already finished: ignored
    assert await budgets.usage("t", PLAN) == (50, 0)


async def test_expired_reservations_are_dropped(budgets, clock, fake):
    await budgets.admit("t", PLAN, prompt_tokens=200, max_output_tokens=1000)  # its worker dies
    clock.advance(119.999)
    assert await budgets.usage("t", PLAN) == (0, 1200)
    with pytest.raises(BudgetExhausted):
        await budgets.admit("t", PLAN, prompt_tokens=1, max_output_tokens=1)
    clock.advance(0.001)
    assert await budgets.usage("t", PLAN) == (0, 0)
    assert await fake.keys("*") == []  # nothing of the dead reservation is left behind
    reservation = await budgets.admit("t", PLAN, prompt_tokens=1, max_output_tokens=1)
    assert reservation.level is BudgetLevel.OK


async def test_a_settlement_after_the_reservation_expired_still_counts(budgets, clock):
    reservation = await budgets.admit("t", PLAN, prompt_tokens=100, max_output_tokens=900)
    clock.advance(300.0)
    await budgets.settle(reservation, used_tokens=400)
    assert await budgets.usage("t", PLAN) == (400, 0)


async def test_a_new_period_starts_fresh(budgets, clock):
    await spend(budgets, 1200)
    clock.advance(PERIOD_S - 600.0)
    reservation = await budgets.admit("t", PLAN, prompt_tokens=1, max_output_tokens=1)
    assert (reservation.level, reservation.used_tokens) == (BudgetLevel.OK, 0)


async def test_a_request_settles_into_the_period_that_admitted_it(budgets, clock):
    reservation = await budgets.admit("t", PLAN, prompt_tokens=100, max_output_tokens=100)
    clock.advance(PERIOD_S - 600.0)
    await budgets.settle(reservation, used_tokens=150)
    assert await budgets.usage("t", PLAN) == (0, 0)
    clock.advance(-1.0)
    assert await budgets.usage("t", PLAN) == (150, 0)


async def test_keys_expire_after_their_period(budgets, fake):
    reservation = await budgets.admit("t", PLAN, prompt_tokens=1, max_output_tokens=1)
    await budgets.settle(reservation, used_tokens=2)
    keys = await fake.keys("*")
    assert keys
    for key in keys:
        ttl_ms = await fake.pttl(key)
        assert 0 < ttl_ms <= (PERIOD_S - 600.0 + 120.0) * 1000


async def test_without_redis_admission_fails_open(link, clock, server, caplog):
    budgets = TokenBudgets(link, clock=clock)
    server.connected = False
    with caplog.at_level(logging.WARNING, logger="reference_impl.budget"):
        reservations = [
            await budgets.admit("t", PLAN, prompt_tokens=10, max_output_tokens=500)
            for _ in range(3)
        ]
        await budgets.settle(reservations[0], used_tokens=100)
        await budgets.release(reservations[1])
    for reservation in reservations:
        assert reservation.level is BudgetLevel.OK
        assert (reservation.reserved_tokens, reservation.max_output_tokens) == (0, 500)
    budget_records = [r for r in caplog.records if r.name == "reference_impl.budget"]
    assert len(budget_records) == 1
    server.connected = True
    clock.advance(link.cooldown_s)
    await budgets.settle(reservations[2], used_tokens=70)  # usage is counted once Redis is back
    assert await budgets.usage("t", PLAN) == (70, 0)


async def test_a_reservation_without_a_budget_settles_to_nothing(budgets, fake):
    reservation = Reservation(
        tenant="t",
        level=BudgetLevel.OK,
        reserved_tokens=0,
        used_tokens=0,
        limit_tokens=0,
        max_output_tokens=100,
    )
    await budgets.settle(reservation, used_tokens=100)
    assert await fake.keys("*") == []


async def test_negative_token_counts_are_refused(budgets):
    with pytest.raises(ValueError, match="prompt_tokens"):
        await budgets.admit("t", PLAN, prompt_tokens=-1, max_output_tokens=1)
    reservation = await budgets.admit("t", PLAN, prompt_tokens=1, max_output_tokens=1)
    with pytest.raises(ValueError, match="used_tokens"):
        await budgets.settle(reservation, used_tokens=-1)


def test_thresholds_are_whole_tokens_exact_to_the_decimal():
    plan = BudgetPlan(limit_tokens=100, warn_pct=0.55, hard_pct=1.1, ceiling_pct=1.15)
    assert (plan.warn_tokens, plan.hard_tokens, plan.ceiling_tokens) == (55, 110, 115)
    assert BudgetPlan(limit_tokens=999, warn_pct=0.5).warn_tokens == 500


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"limit_tokens": 0}, "limit_tokens"),
        ({"warn_pct": 0.0}, "warn_pct"),
        ({"warn_pct": 0.9, "hard_pct": 0.8}, "hard_pct"),
        ({"ceiling_pct": 0.9}, "ceiling_pct"),
        ({"period_s": 0.0}, "period_s"),
        ({"downgrade_max_tokens": 0}, "downgrade_max_tokens"),
    ],
)
def test_bad_plans_are_refused(options, field):
    with pytest.raises(ValueError, match=field):
        BudgetPlan(**{"limit_tokens": 1000, **options})


def test_a_reservation_ttl_must_be_positive(link):
    with pytest.raises(ValueError, match="reservation_ttl_s"):
        TokenBudgets(link, reservation_ttl_s=0.0)


# Property: however admissions, settlements (of at most the prompt plus the max output tokens a
# reservation allows), releases and dead workers interleave across workers, settled usage stays
# within one request of the ceiling, and Redis agrees with the test's ledger.

PROPERTY_PLAN = BudgetPlan(limit_tokens=1000, period_s=30 * 86400.0, downgrade_max_tokens=100)
WORKERS = 3
LEVELS_BY_USAGE = (
    (PROPERTY_PLAN.hard_tokens, BudgetLevel.DOWNGRADE),
    (PROPERTY_PLAN.warn_tokens, BudgetLevel.WARN),
    (0, BudgetLevel.OK),
)

worker_ids = st.integers(0, WORKERS - 1)
requests = st.tuples(worker_ids, st.integers(0, 300), st.integers(0, 600))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("admit"), requests),
        st.tuples(st.just("burst"), st.lists(requests, min_size=2, max_size=6)),
        st.tuples(st.just("settle"), st.integers(0, 20), st.fractions(0, 1)),
        st.tuples(st.just("release"), st.integers(0, 20)),
        st.just(("workers_die",)),
    ),
    max_size=40,
)


class Ledger:
    """What the test knows: settled usage, live reservations, the largest request seen."""

    def __init__(self) -> None:
        self.now_s = 1_000_000.0
        self.settled = 0
        self.live: list[tuple[Reservation, int]] = []  # with its prompt tokens
        self.largest_request = 0

    @property
    def reserved(self) -> int:
        return sum(reservation.reserved_tokens for reservation, _ in self.live)

    def expected_level(self) -> BudgetLevel:
        counted = self.settled + self.reserved
        return next(level for threshold, level in LEVELS_BY_USAGE if counted >= threshold)


async def run_budget_operations(steps) -> None:
    ledger = Ledger()
    server = FakeServer()
    clients = [FakeRedis(server=server) for _ in range(WORKERS)]
    workers = [
        TokenBudgets(RedisLink(client, timeout_s=1.0), clock=lambda: ledger.now_s)
        for client in clients
    ]

    async def admit(worker: int, prompt_tokens: int, max_output_tokens: int) -> bool:
        ledger.largest_request = max(ledger.largest_request, prompt_tokens + max_output_tokens)
        try:
            reservation = await workers[worker].admit(
                "t",
                PROPERTY_PLAN,
                prompt_tokens=prompt_tokens,
                max_output_tokens=max_output_tokens,
            )
        except BudgetExhausted:
            return False
        ledger.live.append((reservation, prompt_tokens))
        return True

    try:
        for step in steps:
            match step:
                case ("admit", request):
                    counted = ledger.settled + ledger.reserved
                    level = ledger.expected_level()
                    assert await admit(*request) == (counted < PROPERTY_PLAN.ceiling_tokens)
                    if counted < PROPERTY_PLAN.ceiling_tokens:
                        assert ledger.live[-1][0].level is level
                case ("burst", burst):
                    await asyncio.gather(*(admit(*request) for request in burst))
                case ("settle", index, fraction) if ledger.live:
                    reservation, prompt_tokens = ledger.live.pop(index % len(ledger.live))
                    most_tokens = prompt_tokens + reservation.max_output_tokens
                    used_tokens = int(most_tokens * fraction)
                    await workers[index % WORKERS].settle(reservation, used_tokens=used_tokens)
                    ledger.settled += used_tokens
                case ("release", index) if ledger.live:
                    reservation, _ = ledger.live.pop(index % len(ledger.live))
                    await workers[index % WORKERS].release(reservation)
                case ("workers_die",):  # reservations in flight are never settled; they expire
                    ledger.live.clear()
                    ledger.now_s += 120.0
            assert await workers[0].usage("t", PROPERTY_PLAN) == (ledger.settled, ledger.reserved)
            assert ledger.settled <= PROPERTY_PLAN.ceiling_tokens + ledger.largest_request
    finally:
        for client in clients:
            await client.aclose()


@settings(max_examples=60, deadline=None)
@given(operations)
def test_settled_usage_stays_within_one_request_of_the_ceiling(steps):
    asyncio.run(run_budget_operations(steps))
