"""Token and spend budgets: one request's token budget and each client's daily budgets.

Before every provider call the worst case (the prompt's estimated tokens plus the
call's ``max_tokens``, and what that would cost) is reserved against every budget
that applies; after the call the reservation is settled with the real usage and
the rest is given back. Reserving and checking happen in one synchronous step on
the event loop, so concurrent requests cannot together spend past a limit. A call
that the remaining budget cannot cover raises ``BudgetExceededError`` and is not
made.

Pure: no I/O. The daily ledger lives in the process (one BFF instance); the day
is the UTC calendar day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from bff.exceptions import BudgetExceededError

ANONYMOUS = "anonymous"


class Price(BaseModel):
    """What one model route costs, in US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        prompt = prompt_tokens * self.input_per_mtok
        return (prompt + completion_tokens * self.output_per_mtok) / 1e6


FREE = Price(input_per_mtok=0, output_per_mtok=0)


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


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class DailyLedger:
    """Each client's tokens and cost today, against the daily limits (None: no limit);
    ``overrides`` holds some clients' own (tokens, cost) limits."""

    def __init__(
        self,
        *,
        tokens: int | None = None,
        cost_usd: float | None = None,
        overrides: Mapping[str, tuple[int | None, float | None]] | None = None,
        today: Callable[[], dt.date] = _utc_today,
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


@dataclass(slots=True)
class Reservation:
    """The worst case of one call, held against the budgets until ``settle``."""

    _spend: Spend
    _price: Price
    tokens: int
    cost_usd: float
    settled: bool = False

    def settle(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Replace the reservation with the call's real usage (once); what it cost."""
        if self.settled:
            return 0.0
        self.settled = True
        cost = self._price.cost(prompt_tokens, completion_tokens)
        self._spend.settle(self, prompt_tokens + completion_tokens, cost)
        return cost


class Spend:
    """One request's spending: its own token budget plus its client's daily budgets."""

    def __init__(
        self,
        *,
        token_budget: int,
        ledger: DailyLedger,
        client: str = ANONYMOUS,
        prices: Mapping[str, Price] | None = None,
    ) -> None:
        self._request = Allowance(token_budget)
        self._daily_tokens, self._daily_cost = ledger.allowances(client)
        self._prices = prices or {}
        self.tokens = 0
        self.cost_usd = 0.0

    def price(self, route: str) -> Price:
        return self._prices.get(route, FREE)

    def affordable_max_tokens(self, route: str, prompt_tokens: int) -> float:
        """The largest ``max_tokens`` a call with this prompt could reserve now."""
        price = self.price(route)
        by_tokens = min(self._request.remaining, self._daily_tokens.remaining) - prompt_tokens
        if price.output_per_mtok == 0:
            return by_tokens
        left = self._daily_cost.remaining - price.cost(prompt_tokens, 0)
        return min(by_tokens, left * 1e6 / price.output_per_mtok)

    def reserve(self, route: str, prompt_tokens: int, max_tokens: int) -> Reservation:
        """Hold the worst case of a call; raises BudgetExceededError when it does not fit."""
        tokens = prompt_tokens + max_tokens
        price = self.price(route)
        cost = price.cost(prompt_tokens, max_tokens)
        for budget, name, allowance, amount in (
            ("request_tokens", "the request's token budget", self._request, tokens),
            ("client_tokens", "the client's daily token budget", self._daily_tokens, tokens),
            ("client_cost", "the client's daily cost budget", self._daily_cost, cost),
        ):
            if amount > allowance.remaining:
                unit = "USD" if allowance is self._daily_cost else "tokens"
                raise BudgetExceededError(
                    f"a call on {route} needs up to {_amount(amount)} {unit}; "
                    f"{name} has {_amount(allowance.remaining)} left of {_amount(allowance.limit)}",
                    budget,
                )
        for allowance, amount in (
            (self._request, tokens),
            (self._daily_tokens, tokens),
            (self._daily_cost, cost),
        ):
            allowance.reserved += amount
        return Reservation(self, price, tokens, cost)

    def settle(self, reservation: Reservation, tokens: int, cost: float) -> None:
        for allowance, held, spent in (
            (self._request, reservation.tokens, tokens),
            (self._daily_tokens, reservation.tokens, tokens),
            (self._daily_cost, reservation.cost_usd, cost),
        ):
            allowance.reserved -= held
            allowance.used += spent
        self.tokens += tokens
        self.cost_usd += cost


def _amount(value: float | None) -> str:
    if value is None or math.isinf(value):
        return "unlimited"
    return f"{value:.6f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
