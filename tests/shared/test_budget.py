"""The daily budgets shared on a real redis-server: the reserve and settle scripts, two
ledgers racing for one client's day, and an outage (fail closed, then back)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import pytest

from bff.budget import FREE, Ask, Hold, Price, Spend
from bff.exceptions import BudgetExceededError
from bff.shared.budget import KEY_TTL_S, SharedLedger
from bff.shared.link import RedisLink
from tests.redis_server import RedisServer, free_port

pytestmark = pytest.mark.anyio

PRICE = Price(input_per_mtok=2.5, output_per_mtok=10.0)
DAY = dt.date(2026, 11, 26)
ROUTE = "sim/a"


def ask(prompt: int, most: int, least: int | None = None, price: Price = FREE) -> Ask:
    return Ask(ROUTE, prompt, most, most if least is None else least, price)


@asynccontextmanager
async def ledger(
    redis: RedisServer | str,
    *,
    hold_s: float = 60.0,
    today: Callable[[], dt.date] = lambda: DAY,
    retry_s: float = 1.0,
    timeout_s: float = 2.0,
    **limits: object,
) -> AsyncIterator[SharedLedger]:
    url = redis if isinstance(redis, str) else redis.url
    link = RedisLink(url, retry_s=retry_s, timeout_s=timeout_s)
    try:
        yield SharedLedger(link, hold_s=hold_s, today=today, **limits)  # type: ignore[arg-type]
    finally:
        await link.aclose()


async def day_state(shared: SharedLedger, client: str, day: dt.date = DAY) -> dict[str, int]:
    used, _ = shared.keys(client, day)
    raw = await shared.link.client.hgetall(used)
    fields = ("tokens", "cost", "held_tokens", "held_cost")
    return {k.decode(): int(v) for k, v in raw.items() if k.decode() in fields}


async def test_reserve_clamps_max_tokens_then_refuses_with_the_budgets_name(
    redis_server: RedisServer,
) -> None:
    async with ledger(redis_server, tokens=1000) as shared:
        hold = await shared.reserve("key:a", ask(100, 1000, 64))
        assert (hold.max_tokens, hold.tokens) == (900, 1000)  # what the day had left
        with pytest.raises(BudgetExceededError) as refused:
            await shared.reserve("key:a", ask(100, 1000, 64))
        assert refused.value.budget == "client_tokens"
        assert str(refused.value) == (
            "a call on sim/a needs up to 164 tokens; "
            "the client's daily token budget has 0 left of 1000"
        )
        other = await shared.reserve("key:b", ask(100, 500))  # another client's own day
        assert other.max_tokens == 500


async def test_settle_replaces_the_hold_with_the_real_usage(redis_server: RedisServer) -> None:
    async with ledger(redis_server, tokens=1000) as shared:
        spend = Spend(token_budget=10_000, ledger=shared, client="key:a")
        reservation = await spend.reserve(ROUTE, 100, 500)
        assert await day_state(shared, "key:a") == {"held_tokens": 600, "held_cost": 0}
        await reservation.settle(100, 50)
        await reservation.settle(100, 50)  # once only
        state = await day_state(shared, "key:a")
        assert state == {"tokens": 150, "cost": 0, "held_tokens": 0, "held_cost": 0}
        assert (await spend.reserve(ROUTE, 0, 10_000, 1)).max_tokens == 850


async def test_the_cost_limit_clamps_and_refuses_in_dollars(redis_server: RedisServer) -> None:
    async with ledger(redis_server, cost_usd=0.01) as shared:
        hold = await shared.reserve("key:a", ask(1000, 500, price=PRICE))
        assert hold.cost_usd == pytest.approx(0.0075)
        await shared.settle(hold, 1500, 0.0075)
        with pytest.raises(BudgetExceededError) as refused:
            await shared.reserve("key:a", ask(1000, 500, price=PRICE))
        assert refused.value.budget == "client_cost"
        assert str(refused.value) == (
            "a call on sim/a needs up to 0.0075 USD; "
            "the client's daily cost budget has 0.0025 left of 0.01"
        )
        free = await shared.reserve("key:a", ask(1000, 500))  # an unpriced route: no cost
        assert free.max_tokens == 500
        assert (await shared.reserve("key:a", ask(0, 10_000, 1, PRICE))).max_tokens == 250


async def test_a_client_of_its_own_has_its_own_limits(redis_server: RedisServer) -> None:
    overrides = {"client:big": (10_000, None)}
    async with ledger(redis_server, tokens=100, overrides=overrides) as shared:
        assert (await shared.reserve("client:big", ask(1000, 1000))).tokens == 2000
        with pytest.raises(BudgetExceededError, match="daily token budget has 100 left of 100"):
            await shared.reserve("client:small", ask(60, 60))


async def test_a_client_without_daily_limits_never_touches_redis() -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    async with ledger(nowhere, overrides={"client:free": (None, None)}, tokens=10) as shared:
        hold = await shared.reserve("client:free", ask(100, 500, 64))
        assert (hold.max_tokens, hold.id) == (500, "")
        await shared.settle(hold, 100, 0.0)
        assert shared.link.up and shared.link.failures == 0


async def test_an_expired_hold_frees_itself_and_its_usage_still_counts(
    redis_server: RedisServer,
) -> None:
    async with ledger(redis_server, tokens=1000, hold_s=0.05) as shared:
        crashed = await shared.reserve("key:a", ask(100, 900))  # never settled in time
        with pytest.raises(BudgetExceededError):
            await shared.reserve("key:a", ask(100, 100))
        with anyio.fail_after(5):
            while True:  # the lease ends 50 ms after it was taken, by Redis's clock
                try:
                    later = await shared.reserve("key:a", ask(100, 100))
                    break
                except BudgetExceededError:
                    await anyio.sleep(0.01)
        assert await day_state(shared, "key:a") == {"held_tokens": 200, "held_cost": 0}
        await shared.settle(crashed, 300, 0.0)  # late: only its usage is added
        await shared.settle(later, 150, 0.0)
        state = await day_state(shared, "key:a")
        assert state == {"tokens": 450, "cost": 0, "held_tokens": 0, "held_cost": 0}


async def test_a_new_day_starts_afresh_and_keys_expire(redis_server: RedisServer) -> None:
    day = [DAY]
    async with ledger(redis_server, tokens=100, today=lambda: day[0]) as shared:
        first = await shared.reserve("key:a", ask(50, 50))
        with pytest.raises(BudgetExceededError):
            await shared.reserve("key:a", ask(1, 0))
        day[0] = DAY + dt.timedelta(days=1)
        second = await shared.reserve("key:a", ask(50, 50))
        for key in shared.keys("key:a", day[0]):
            assert 0 < await shared.link.client.ttl(key) <= KEY_TTL_S
        await shared.settle(first, 70, 0.0)  # counts against the day it was held on
        assert (await day_state(shared, "key:a", DAY))["tokens"] == 70
        assert (await day_state(shared, "key:a", day[0]))["held_tokens"] == 100
        await shared.settle(second, 10, 0.0)
        used, holds = shared.keys("key:a", DAY)
        assert 0 < await shared.link.client.ttl(used) <= KEY_TTL_S
        assert not await shared.link.client.exists(holds)  # no hold left: no key


async def test_two_ledgers_under_200_concurrent_reservations_never_overspend(
    redis_server: RedisServer,
) -> None:
    async with ledger(redis_server, tokens=10_000) as a, ledger(redis_server, tokens=10_000) as b:
        fixed = [(a if n % 2 else b).reserve("key:a", ask(10, 90)) for n in range(200)]
        admitted = await _admitted(fixed)
        assert len(admitted) == 100  # exactly what 10,000 tokens cover, 100 each
        for hold in admitted:
            await a.settle(hold, hold.tokens, 0)  # either ledger settles any hold
        clamped = [(a if n % 2 else b).reserve("key:b", ask(10, 190, 10)) for n in range(200)]
        admitted = await _admitted(clamped)
        assert 0 < sum(hold.tokens for hold in admitted) <= 10_000
        state = await day_state(a, "key:b")
        assert state["held_tokens"] == sum(hold.tokens for hold in admitted)


async def _admitted(reservations: list[Awaitable[Hold]]) -> list[Hold]:
    """The holds of ``reservations`` run at once; refusals dropped (any other error
    fails the test)."""
    results = await asyncio.gather(*reservations, return_exceptions=True)
    for result in results:
        if not isinstance(result, Hold):
            assert isinstance(result, BudgetExceededError), result
            assert result.budget == "client_tokens"
    return [result for result in results if isinstance(result, Hold)]


async def test_redis_down_refuses_quickly_then_works_again(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with ledger(redis_server, tokens=1000, retry_s=0.1, timeout_s=0.2) as shared:
        hold = await shared.reserve("key:a", ask(100, 100))
        redis_server.stop()
        with anyio.fail_after(2):
            for _ in range(3):  # the first finds Redis gone, the others fail at once
                with pytest.raises(BudgetExceededError) as refused:
                    await shared.reserve("key:a", ask(100, 100))
                assert refused.value.budget == "budget_store"
                assert "the shared budget store is unavailable" in str(refused.value)
        with caplog.at_level(logging.WARNING, logger="bff.shared.budget"), anyio.fail_after(2):
            await shared.settle(hold, 150, 0.0)  # dropped, and said so
        events = [getattr(r, "fields", {}).get("event") for r in caplog.records]
        assert "budget_settle_dropped" in events
        redis_server.start()
        with anyio.fail_after(5):
            while True:  # the link tries Redis again every 0.1 s
                try:
                    back = await shared.reserve("key:a", ask(100, 100))
                    break
                except BudgetExceededError as exc:
                    assert exc.budget == "budget_store"
                    await anyio.sleep(0.02)
        assert back.max_tokens == 100 and shared.link.up
