"""Each client's daily budgets, shared by the replicas on Redis.

``SharedLedger`` is the ``Ledger`` of a fleet. Each operation is one Lua script, so
one round trip, and atomic in Redis:

* per client and UTC day, a hash ``budget:used:DAY:CLIENT`` holds the settled
  tokens and cost, the totals of the live holds, and each hold's amounts (field
  ``h:ID``); a sorted set ``budget:holds:DAY:CLIENT`` scores each hold id by its
  expiry (Redis ``TIME``, milliseconds). Cost is counted in integer micro-dollars.
* reserving first frees the holds past their expiry (what a crashed replica held
  comes back after ``hold_s``), then picks ``max_tokens = max(least, min(most, what
  today's tokens and dollars left afford))``, refuses when even that does not fit,
  and otherwise records the hold.
* settling removes the hold (if it has not expired meanwhile) and adds the real
  usage.

Both keys expire two days after their last write. The day is the replica's UTC date,
passed in (``today``). A client without daily limits never touches Redis.

Redis unavailable (``SharedStateUnavailable``): reserving fails closed with
``BudgetExceededError`` (budget ``budget_store``): no call is made until Redis is
back. A settle that cannot reach Redis is logged and dropped; its hold expires.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import anyio

from bff.budget import Ask, Hold, refusal, utc_today
from bff.exceptions import BudgetExceededError
from bff.observe.logs import log_event
from bff.shared.link import RedisLink, SharedStateUnavailable

logger = logging.getLogger(__name__)

KEY_TTL_S = 2 * 86_400
"""How long a day's keys outlive their last write."""
SETTLE_TIMEOUT_S = 2.0
"""The most a settle waits for Redis (shielded from cancellation); past it, the hold
is left to expire. The link's own timeouts are far shorter."""
UNAVAILABLE = "the shared budget store is unavailable; no call is made until it is back"
MICROS = 1_000_000

_FREE = """
local function free(used, holds, id)
  local held = redis.call('HGET', used, 'h:' .. id)
  if not held then
    return false
  end
  local tokens, cost = string.match(held, '^(%d+):(%d+)$')
  tokens, cost = tonumber(tokens), tonumber(cost)
  if tokens > 0 then redis.call('HINCRBY', used, 'held_tokens', -tokens) end
  if cost > 0 then redis.call('HINCRBY', used, 'held_cost', -cost) end
  redis.call('HDEL', used, 'h:' .. id)
  redis.call('ZREM', holds, id)
  return true
end
"""
"""Give back one hold's amounts (``-0`` is not an integer to HINCRBY: zeros are skipped)."""

_RESERVE = (
    _FREE
    + """
local used, holds = KEYS[1], KEYS[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', holds, '-inf', now)) do
  free(used, holds, id)
end
local v = redis.call('HMGET', used, 'tokens', 'cost', 'held_tokens', 'held_cost')
local prompt, most, least = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tlimit, climit = tonumber(ARGV[4]), tonumber(ARGV[5])
local pin, pout = tonumber(ARGV[6]), tonumber(ARGV[7])
local tleft, cleft = math.huge, math.huge
if tlimit >= 0 then
  tleft = math.max(0, tlimit - (tonumber(v[1]) or 0) - (tonumber(v[3]) or 0))
end
if climit >= 0 then
  cleft = math.max(0, climit - (tonumber(v[2]) or 0) - (tonumber(v[4]) or 0))
end
local afford = math.min(most, tleft - prompt)
if pout > 0 then
  afford = math.min(afford, (cleft - prompt * pin + 0.001) / pout)
end
local max_tokens = math.max(least, math.floor(afford))
local tokens = prompt + max_tokens
local cost = math.max(0, math.ceil(prompt * pin + max_tokens * pout - 0.001))
if tokens > tleft then
  return {0, 'client_tokens', tokens, tleft, tlimit}
end
if cost > cleft then
  return {0, 'client_cost', cost, cleft, climit}
end
local id = ARGV[8]
redis.call('HINCRBY', used, 'held_tokens', tokens)
redis.call('HINCRBY', used, 'held_cost', cost)
redis.call('HSET', used, 'h:' .. id, string.format('%d:%d', tokens, cost))
redis.call('ZADD', holds, now + tonumber(ARGV[9]), id)
redis.call('EXPIRE', used, ARGV[10])
redis.call('EXPIRE', holds, ARGV[10])
return {1, max_tokens, tokens, cost}
"""
)
"""KEYS: the client's day (hash), its holds (sorted set). ARGV: prompt tokens, most,
least, the token limit and the cost limit (micro-dollars; -1: none), the price in
micro-dollars per input and output token, the hold id, the hold's life (ms), the
keys' life (s). Returns {1, max_tokens, tokens, cost} for a hold, or {0, budget,
needed, left, limit} for a refusal. The 0.001 (a nano-dollar) absorbs float noise."""

_SETTLE = (
    _FREE
    + """
local used, holds = KEYS[1], KEYS[2]
local found = free(used, holds, ARGV[1])
redis.call('HINCRBY', used, 'tokens', ARGV[2])
redis.call('HINCRBY', used, 'cost', ARGV[3])
redis.call('EXPIRE', used, ARGV[4])
return found and 1 or 0
"""
)
"""KEYS: as for reserving. ARGV: the hold id, the tokens and cost (micro-dollars) the
call used, the keys' life (s). Returns 1 when the hold was still live, else 0 (it
expired; the usage counts all the same)."""


class SharedLedger:
    """The ``Ledger`` of a fleet: see the module docstring. ``tokens`` and ``cost_usd``
    are the daily limits (None: no limit), ``overrides`` some clients' own; a hold
    frees itself ``hold_s`` after it was taken."""

    def __init__(
        self,
        link: RedisLink,
        *,
        tokens: int | None = None,
        cost_usd: float | None = None,
        overrides: Mapping[str, tuple[int | None, float | None]] | None = None,
        hold_s: float,
        today: Callable[[], dt.date] = utc_today,
    ) -> None:
        self.link = link
        self._limits = (tokens, cost_usd)
        self._overrides = dict(overrides or {})
        self._hold_ms = max(1, round(hold_s * 1000))
        self._today = today
        # Hold ids: unique across replicas without a random draw per call.
        self._ids = (f"{secrets.token_hex(6)}:{n}" for n in itertools.count())

    def limits(self, client: str) -> tuple[int | None, float | None]:
        """The client's daily (tokens, cost) limits."""
        return self._overrides.get(client, self._limits)

    def keys(self, client: str, day: dt.date) -> list[str]:
        """The client's day and its holds."""
        date = day.isoformat()
        return [
            self.link.key("budget", "used", date, client),
            self.link.key("budget", "holds", date, client),
        ]

    async def reserve(self, client: str, ask: Ask) -> Hold:
        tokens, cost = self.limits(client)
        day = self._today()
        if tokens is None and cost is None:
            max_tokens = max(ask.least, ask.most)
            return Hold(client, *ask.worst_case(max_tokens), max_tokens, day)
        hold_id = next(self._ids)
        limits = [-1 if tokens is None else tokens, -1 if cost is None else _micros(cost)]
        price = ask.price
        args: list[float | str] = [ask.prompt_tokens, ask.most, ask.least, *limits]
        args += [price.input_per_mtok, price.output_per_mtok, hold_id, self._hold_ms, KEY_TTL_S]
        try:
            reply = await self.link.run(_RESERVE, self.keys(client, day), args)
        except SharedStateUnavailable:
            raise BudgetExceededError(UNAVAILABLE, "budget_store") from None
        if int(reply[0]) == 0:
            raise _refused(ask.route, reply)
        max_tokens, held, micros = (int(n) for n in reply[1:4])
        return Hold(client, held, micros / MICROS, max_tokens, day, hold_id)

    async def settle(self, hold: Hold, tokens: int, cost_usd: float) -> None:
        if not hold.id:
            return  # a client without daily limits: nothing was held in Redis
        args = [hold.id, tokens, _micros(cost_usd), KEY_TTL_S]
        with anyio.move_on_after(SETTLE_TIMEOUT_S, shield=True):
            try:
                await self.link.run(_SETTLE, self.keys(hold.client, hold.day), args)
                return
            except SharedStateUnavailable:
                pass
        log_event(
            logger,
            "a budget settle was dropped: the shared budget store is unavailable",
            event="budget_settle_dropped",
            level=logging.WARNING,
            client=hold.client,
            tokens=tokens,
            cost_usd=cost_usd,
        )


def _micros(usd: float) -> int:
    return round(usd * MICROS)


def _refused(route: str, reply: list[Any]) -> BudgetExceededError:
    """The error of a refusal the reserve script returned."""
    budget = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
    needed, left, limit = (int(n) for n in reply[2:5])
    if budget == "client_cost":
        return refusal(budget, route, needed / MICROS, left / MICROS, limit / MICROS)
    return refusal(budget, route, needed, left, limit)
