"""The budget arithmetic on its own: reservations, settlement, days, prices, identities."""

from __future__ import annotations

import datetime as dt

import pytest

from bff.budget import DailyLedger, Price, Spend
from bff.exceptions import BudgetExceededError

PRICE = Price(input_per_mtok=2.5, output_per_mtok=10.0)

pytestmark = pytest.mark.anyio


async def test_a_call_reserves_its_worst_case_and_settles_its_real_usage() -> None:
    spend = Spend(token_budget=1000, ledger=DailyLedger())
    reservation = await spend.reserve("sim/a", 100, 500)
    with pytest.raises(BudgetExceededError, match="request's token budget has 400 left of 1000"):
        await spend.reserve("sim/a", 100, 400)
    await reservation.settle(100, 50)
    await reservation.settle(100, 50)  # settling twice changes nothing
    assert spend.tokens == 150
    await spend.reserve("sim/a", 100, 750)  # 850 of the 850 left
    with pytest.raises(BudgetExceededError):
        await spend.reserve("sim/a", 1, 0)


async def test_concurrent_requests_of_one_client_cannot_overspend_its_day() -> None:
    ledger = DailyLedger(tokens=1000)
    first = Spend(token_budget=10_000, ledger=ledger, client="key:a")
    second = Spend(token_budget=10_000, ledger=ledger, client="key:a")
    other = Spend(token_budget=10_000, ledger=ledger, client="key:b")
    held = await first.reserve("sim/a", 100, 600)
    with pytest.raises(BudgetExceededError, match="client's daily token budget has 300 left"):
        await second.reserve("sim/a", 100, 600)
    await other.reserve("sim/a", 100, 600)  # another client has its own allowance
    await held.settle(100, 100)
    await second.reserve("sim/a", 100, 600)  # the unused part came back


async def test_cost_uses_the_price_table_and_counts_against_the_daily_cost_budget() -> None:
    ledger = DailyLedger(cost_usd=0.01)
    spend = Spend(token_budget=10**6, ledger=ledger, prices={"openai/x": PRICE})
    assert PRICE.cost(1000, 500) == pytest.approx(0.0075)
    await (await spend.reserve("openai/x", 1000, 500)).settle(1000, 500)
    assert spend.cost_usd == pytest.approx(0.0075)
    with pytest.raises(BudgetExceededError, match=r"needs up to 0\.0075 USD.*cost budget"):
        await spend.reserve("openai/x", 1000, 500)
    await spend.reserve("demo/heuristic", 1000, 500)  # an unpriced route costs nothing
    # What is left affords 250 output tokens: a call asking for more gets that many.
    assert (await spend.reserve("openai/x", 0, 10_000, 1)).max_tokens == 250


async def test_a_new_utc_day_starts_every_allowance_afresh() -> None:
    day = [dt.date(2026, 11, 26)]
    ledger = DailyLedger(tokens=100, today=lambda: day[0])
    await (await Spend(token_budget=1000, ledger=ledger).reserve("sim/a", 50, 50)).settle(50, 50)
    with pytest.raises(BudgetExceededError):
        await Spend(token_budget=1000, ledger=ledger).reserve("sim/a", 1, 0)
    day[0] = dt.date(2026, 11, 27)
    await Spend(token_budget=1000, ledger=ledger).reserve("sim/a", 50, 50)


async def test_max_tokens_is_what_remains_after_the_prompt() -> None:
    spend = Spend(token_budget=1000, ledger=DailyLedger(tokens=800))
    assert (await spend.reserve("sim/a", 300, 10_000, 1)).max_tokens == 500


async def test_a_call_short_of_budget_carries_what_is_left_but_never_less_than_least() -> None:
    spend = Spend(token_budget=10_000, ledger=DailyLedger(tokens=800))
    held = await spend.reserve("sim/a", 100, 1000, 64)
    assert (held.max_tokens, held.tokens) == (700, 800)  # the daily budget's clamp
    await held.settle(100, 100)
    assert (await spend.reserve("sim/a", 100, 1000, 64)).max_tokens == 500
    with pytest.raises(BudgetExceededError, match="daily token budget has 0 left of 800"):
        await spend.reserve("sim/a", 100, 1000, 64)
    short = Spend(token_budget=300, ledger=DailyLedger())
    assert (await short.reserve("sim/a", 100, 1000, 64)).max_tokens == 200  # the request's
    with pytest.raises(BudgetExceededError, match="request's token budget") as refused:
        await short.reserve("sim/a", 100, 1000, 64)
    assert refused.value.budget == "request_tokens"


async def test_a_client_of_its_own_has_its_own_daily_limits() -> None:
    ledger = DailyLedger(tokens=100, overrides={"client:big": (10_000, None)})
    big = Spend(token_budget=5000, ledger=ledger, client="client:big")
    await big.reserve("sim/a", 1000, 1000)
    small = Spend(token_budget=5000, ledger=ledger, client="client:small")
    with pytest.raises(BudgetExceededError, match="daily token budget"):
        await small.reserve("sim/a", 60, 60)
