"""Per-client limits the replicas share on Redis: the request rate, and how many runs
and subscriptions a client has open across the whole fleet.

Each check is one Lua script, so one round trip, and atomic:

* the rate is a moving window per client: a sorted set of the admitted hits, scored
  by Redis's own ``TIME`` (microseconds), trimmed to the window on every hit; a hit is
  admitted while fewer than the rate's amount remain, and the key expires with the
  window. A refusal says when the hit that frees a place leaves the window.
* the open runs and subscriptions are leases: a sorted set per client and kind whose
  members are lease ids scored by their expiry (milliseconds). Taking one first drops
  the expired leases, so what a crashed replica held frees itself after ``lease_s``;
  ending the block removes the lease.

When Redis does not answer (``SharedStateUnavailable``, which fails fast while it is
down), the check falls back to the in-process ``ClientGate``: limits hold per replica
for the outage. A hold taken there is released there; a lease taken in Redis is
released in Redis, or, if Redis is down by then, left to expire.
"""

from __future__ import annotations

import itertools
import logging
import math
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from bff.clients import Principal
from bff.exceptions import ClientLimitError
from bff.ratelimit import ClientGate, limit_of, refusal
from bff.shared.link import RedisLink, SharedStateUnavailable

logger = logging.getLogger(__name__)

RELEASE_TIMEOUT_S = 2.0
"""The most a release waits for Redis (shielded from cancellation); past it, the lease
is left to expire. The link's own timeouts are far shorter."""

_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local amount = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < amount then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 1000)
  return 0
end
local freeing = redis.call('ZRANGE', KEYS[1], count - amount, count - amount, 'WITHSCORES')
return math.max(1, tonumber(freeing[2]) + window - now)
"""
"""KEYS: the client's window. ARGV: amount, window (s), a hit id. Returns 0 when the
hit is admitted, else the microseconds until one is."""

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
"""
"""KEYS: the client's leases of one kind. ARGV: limit, lease (ms), a lease id. Returns 1
when the lease is taken, 0 when the client is at its limit. The key lives as long as
its longest lease."""

_RELEASE = "return redis.call('ZREM', KEYS[1], ARGV[1])"
"""KEYS: the client's leases of one kind. ARGV: the lease id."""


class SharedGate:
    """The ``Gate`` of a fleet: see the module docstring. ``local`` is the fallback
    while Redis is down; ``lease_s`` outlasts any run or subscription a replica holds."""

    def __init__(self, link: RedisLink, local: ClientGate, *, lease_s: float) -> None:
        self.link = link
        self.local = local
        self._lease_ms = max(1, round(lease_s * 1000))
        # Hit and lease ids: unique across replicas without a random draw per call.
        self._ids = (f"{secrets.token_hex(6)}:{n}" for n in itertools.count())

    async def hit(self, principal: Principal) -> None:
        """Count one request; raises ClientLimitError when the client is over its rate."""
        rate = principal.limits.rate
        if rate is None:
            return
        window = rate.get_expiry()
        key = self.link.key("limit", "rate", f"{rate.amount}/{window}", principal.limiter_key)
        try:
            wait_us = await self.link.run(_HIT, [key], [rate.amount, window, next(self._ids)])
        except SharedStateUnavailable:
            wait_us = None
        if wait_us is None:
            self.local.hit_now(principal)
        elif wait_us:
            raise ClientLimitError(
                f"over the rate limit of {rate.amount} per {window}s",
                limit="rate",
                retry_after=max(1.0, math.ceil(int(wait_us) / 1_000_000)),
            )

    @asynccontextmanager
    async def run(self, principal: Principal) -> AsyncIterator[None]:
        """Hold one of the client's concurrent runs, fleet-wide, for the block."""
        async with self._hold("runs", principal):
            yield

    @asynccontextmanager
    async def subscription(self, principal: Principal) -> AsyncIterator[None]:
        """Hold one of the client's open subscriptions, fleet-wide, for the block."""
        async with self._hold("subscriptions", principal):
            yield

    @asynccontextmanager
    async def _hold(self, kind: str, principal: Principal) -> AsyncIterator[None]:
        """A lease on one of the client's ``kind`` in Redis, or, while Redis is down, a
        hold on the local gate; refuses when the client has ``limit_of`` open."""
        limit = limit_of(kind, principal)
        key = self.link.key("limit", kind, principal.limiter_key)
        lease = next(self._ids)
        try:
            taken = await self.link.run(_ACQUIRE, [key], [limit, self._lease_ms, lease])
        except SharedStateUnavailable:
            taken = None  # the body runs outside this handler: its errors chain to nothing
        if taken is None:
            with self.local.hold(kind, principal):
                yield
            return
        if not taken:
            raise refusal(kind, limit)
        try:
            yield
        finally:
            await self._release(key, lease)

    async def _release(self, key: str, lease: str) -> None:
        """Remove the lease, even from a cancelled task; if Redis does not answer, the
        lease expires by itself."""
        with anyio.move_on_after(RELEASE_TIMEOUT_S, shield=True):
            try:
                await self.link.run(_RELEASE, [key], [lease])
            except SharedStateUnavailable:
                logger.debug("a lease is left to expire: Redis is unavailable")
