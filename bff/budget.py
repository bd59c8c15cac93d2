"""Token and spend budgets: one request's token budget and each client's daily budgets.

Before every provider call the worst case (the prompt's estimated tokens plus the
call's ``max_tokens``, and what that would cost) is reserved against every budget
that applies; after the call the reservation is settled with the real usage and
the rest is given back. A call that the remaining budget cannot cover raises
``BudgetExceededError`` and is not made.

The request's own budget is kept here, in the request. The daily budgets are kept
by a ``Ledger``, which picks the call's ``max_tokens`` and holds its worst case in
one atomic step: ``DailyLedger`` in the process (one synchronous step on the event
loop), or ``bff.shared.budget.SharedLedger`` on Redis, shared by every replica.

Pure: no I/O. The day is the UTC calendar day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from bff.exceptions import BudgetExceededError

ANONYMOUS = "anonymous"
EPSILON_USD = 1e-9
"""A nano-dollar: float noise below it never refuses a call."""

BUDGETS = {
    "request_tokens": "the request's token budget",
    "client_tokens": "the client's daily token budget",
    "client_cost": "the client's daily cost budget",
}


class Price(BaseModel):
    """What one model route costs, in US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        prompt = prompt_tokens * self.input_per_mtok
        return (prompt + completion_tokens * self.output_per_mtok) / 1e6


FREE = Price(input_per_mtok=0, output_per_mtok=0)


@dataclass(frozen=True, slots=True)
class Ask:
    """What one call asks of a client's daily budgets: ``most`` is the ``max_tokens`` it
    would like, ``least`` the fewest it may carry."""

    route: str
    prompt_tokens: int
    most: int
    least: int
    price: Price = FREE

    def max_tokens(self, tokens_left: float, cost_left: float) -> int:
        """``max(least, min(most, what the tokens and dollars left afford))``."""
        afford = min(float(self.most), tokens_left - self.prompt_tokens)
        output = self.price.output_per_mtok
        if output > 0:
            dollars = cost_left - self.price.cost(self.prompt_tokens, 0) + EPSILON_USD
            afford = min(afford, dollars * 1e6 / output)
        return max(self.least, math.floor(afford))

    def worst_case(self, max_tokens: int) -> tuple[int, float]:
        """The tokens and dollars of the call with ``max_tokens``, at most."""
        return self.prompt_tokens + max_tokens, self.price.cost(self.prompt_tokens, max_tokens)


@dataclass(frozen=True, slots=True)
class Hold:
    """What a ledger holds for one call until it is settled: its worst case, the
    ``max_tokens`` chosen, the day it counts against, and the store's id (if any)."""

    client: str
    tokens: int
    cost_usd: float
    max_tokens: int
    day: dt.date
    id: str = ""


class Ledger(Protocol):
    """Each client's daily budgets (tokens and cost per UTC day)."""

    async def reserve(self, client: str, ask: Ask) -> Hold:
        """Choose the call's ``max_tokens`` and hold its worst case, atomically; raises
        BudgetExceededError when even ``ask.least`` does not fit."""
        ...

    async def settle(self, hold: Hold, tokens: int, cost_usd: float) -> None:
        """Replace ``hold`` with what the call used."""
        ...


def refusal(
    budget: str, route: str, amount: float, left: float, limit: float | None
) -> BudgetExceededError:
    """The error of a call on ``route`` needing ``amount`` where ``budget`` has ``left``."""
    unit = "USD" if budget == "client_cost" else "tokens"
    return BudgetExceededError(
        f"a call on {route} needs up to {_amount(amount)} {unit}; "
        f"{BUDGETS[budget]} has {_amount(left)} left of {_amount(limit)}",
        budget,
    )


@dataclass(slots=True)
class Allowance:
    """A running total against an optional limit; reservations count until settled."""

    limit: float | None
    used: float = 0.0
    reserved: float = 0.0

    @property
    def remaining(self) -> float:
        if self.limit is None:
            return math.inf
        return max(0.0, self.limit - self.used - self.reserved)


@dataclass(slots=True)
class _Day:
    date: dt.date
    tokens: dict[str, Allowance] = field(default_factory=dict)
    cost: dict[str, Allowance] = field(default_factory=dict)


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class DailyLedger:
    """The ``Ledger`` of one process: each client's tokens and cost today, against the
    daily limits (None: no limit); ``overrides`` holds some clients' own (tokens, cost)
    limits. Reserving never awaits, so it is atomic on the event loop."""

    def __init__(
        self,
        *,
        tokens: int | None = None,
        cost_usd: float | None = None,
        overrides: Mapping[str, tuple[int | None, float | None]] | None = None,
        today: Callable[[], dt.date] = utc_today,
    ) -> None:
        self._tokens_limit = tokens
        self._cost_limit = cost_usd
        self._overrides = dict(overrides or {})
        self._today = today
        self._day = _Day(today())

    def allowances(self, client: str) -> tuple[Allowance, Allowance]:
        """The client's token and cost allowances for today (a new day starts afresh)."""
        today = self._today()
        if today != self._day.date:
            self._day = _Day(today)
        if client not in self._day.tokens:
            tokens, cost = self._overrides.get(client, (self._tokens_limit, self._cost_limit))
            self._day.tokens[client], self._day.cost[client] = Allowance(tokens), Allowance(cost)
        return self._day.tokens[client], self._day.cost[client]

    async def reserve(self, client: str, ask: Ask) -> Hold:
        daily_tokens, daily_cost = self.allowances(client)
        max_tokens = ask.max_tokens(daily_tokens.remaining, daily_cost.remaining)
        tokens, cost = ask.worst_case(max_tokens)
        if tokens > daily_tokens.remaining:
            left, limit = daily_tokens.remaining, daily_tokens.limit
            raise refusal("client_tokens", ask.route, tokens, left, limit)
        if cost > daily_cost.remaining + EPSILON_USD:
            left, limit = daily_cost.remaining, daily_cost.limit
            raise refusal("client_cost", ask.route, cost, left, limit)
        daily_tokens.reserved += tokens
        daily_cost.reserved += cost
        return Hold(client, tokens, cost, max_tokens, self._day.date)

    async def settle(self, hold: Hold, tokens: int, cost_usd: float) -> None:
        if hold.day != self._day.date:
            return  # that day is over: today started afresh
        daily_tokens, daily_cost = self._day.tokens[hold.client], self._day.cost[hold.client]
        daily_tokens.reserved -= hold.tokens
        daily_tokens.used += tokens
        daily_cost.reserved -= hold.cost_usd
        daily_cost.used += cost_usd


@dataclass(slots=True)
class Reservation:
    """The worst case of one call, held against the budgets until ``settle``."""

    _spend: Spend
    _price: Price
    hold: Hold
    settled: bool = False

    @property
    def tokens(self) -> int:
        return self.hold.tokens

    @property
    def cost_usd(self) -> float:
        return self.hold.cost_usd

    @property
    def max_tokens(self) -> int:
        """The ``max_tokens`` the call may carry: what the budgets covered."""
        return self.hold.max_tokens

    async def settle(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Replace the reservation with the call's real usage (once); what it cost."""
        if self.settled:
            return 0.0
        self.settled = True
        cost = self._price.cost(prompt_tokens, completion_tokens)
        await self._spend.settle(self, prompt_tokens + completion_tokens, cost)
        return cost


class Spend:
    """One request's spending: its own token budget, checked here, plus its client's
    daily budgets, kept by ``ledger``."""

    def __init__(
        self,
        *,
        token_budget: int,
        ledger: Ledger,
        client: str = ANONYMOUS,
        prices: Mapping[str, Price] | None = None,
    ) -> None:
        self._request = Allowance(token_budget)
        self._ledger = ledger
        self._client = client
        self._prices = prices or {}
        self.tokens = 0
        self.cost_usd = 0.0

    def price(self, route: str) -> Price:
        return self._prices.get(route, FREE)

    async def reserve(
        self, route: str, prompt_tokens: int, most: int, least: int | None = None
    ) -> Reservation:
        """Hold the worst case of a call with ``max_tokens`` as close to ``most`` as the
        budgets cover, and no fewer than ``least`` (default: ``most``); raises
        BudgetExceededError when even that does not fit."""
        least = most if least is None else least
        request = self._request
        most = max(least, math.floor(min(float(most), request.remaining - prompt_tokens)))
        if prompt_tokens + least > request.remaining:
            left, limit = request.remaining, request.limit
            raise refusal("request_tokens", route, prompt_tokens + least, left, limit)
        price = self.price(route)
        held = prompt_tokens + most
        request.reserved += held  # the request's part is held while the ledger answers
        try:
            hold = await self._ledger.reserve(
                self._client, Ask(route, prompt_tokens, most, least, price)
            )
        finally:
            request.reserved -= held
        request.reserved += hold.tokens
        return Reservation(self, price, hold)

    async def settle(self, reservation: Reservation, tokens: int, cost: float) -> None:
        self._request.reserved -= reservation.tokens
        self._request.used += tokens
        self.tokens += tokens
        self.cost_usd += cost
        await self._ledger.settle(reservation.hold, tokens, cost)


def _amount(value: float | None) -> str:
    if value is None or math.isinf(value):
        return "unlimited"
    return f"{value:.6f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
