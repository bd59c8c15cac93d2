"""The Redis connection every shared part uses, and whether Redis answers.

One ``redis.asyncio`` connection pool with short timeouts. A command that fails
(refused, timed out, connection lost) marks Redis down and raises
``SharedStateUnavailable``; while it is down, commands fail at once without
touching the network, and one command is let through every ``retry_s`` to find
out whether it is back. So an outage costs each request nothing but the fallback
its caller chooses (budgets refuse; limits and breakers use local state), and the
replicas rejoin on the first command that succeeds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as LostConnection
from redis.exceptions import RedisError, ResponseError

from bff.observe.logs import log_event

logger = logging.getLogger(__name__)

RETRY_S = 1.0
"""While Redis is down, how often one command tries it again."""


class SharedStateUnavailable(Exception):
    """Redis did not answer; the caller falls back or refuses."""


class RedisLink:
    """See the module docstring. ``key`` prefixes a key; ``run`` runs a Lua script."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 1.0,
        prefix: str = "bff",
        clock: Callable[[], float] = time.monotonic,
        retry_s: float = RETRY_S,
        max_connections: int = 200,
    ) -> None:
        self.client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            max_connections=max_connections,
            # One reconnect for a pooled connection Redis closed (a restart), at once;
            # never a retry after a timeout: redis-py's default of ten, with backoff,
            # would hold a request for many timeouts.
            retry=Retry(NoBackoff(), 1, supported_errors=(LostConnection,)),
        )
        self.prefix = prefix
        self._clock = clock
        self._retry_s = retry_s
        self._down_since: float | None = None
        self._next_try = 0.0
        self._scripts: dict[str, Any] = {}
        self.failures = 0
        """Commands that found Redis unavailable since start (a counter for metrics)."""

    @property
    def up(self) -> bool:
        return self._down_since is None

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def run(self, lua: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run the Lua script ``lua`` (loaded once, then called by its hash)."""
        script = self._scripts.get(lua)
        if script is None:
            script = self._scripts[lua] = self.client.register_script(lua)
        return await self.call(lambda: script(keys=list(keys), args=list(args)))

    async def call(self, command: Callable[[], Any]) -> Any:
        """Await ``command()`` (a redis-py coroutine) under the outage rules above."""
        now = self._clock()
        if self._down_since is not None and now < self._next_try:
            self.failures += 1
            raise SharedStateUnavailable("Redis is unavailable")
        try:
            result = await command()
        except ResponseError:
            raise  # Redis answered: a command or script is wrong, which no fallback hides
        except (RedisError, OSError, TimeoutError) as exc:
            self._mark_down(now, exc)
            raise SharedStateUnavailable("Redis is unavailable") from None
        if self._down_since is not None:
            log_event(
                logger, "redis is back", event="redis_up", down_s=round(now - self._down_since, 3)
            )
            self._down_since = None
        return result

    def _mark_down(self, now: float, exc: BaseException) -> None:
        self.failures += 1
        self._next_try = now + self._retry_s
        if self._down_since is None:
            self._down_since = now
            log_event(
                logger,
                "redis unavailable",
                event="redis_down",
                level=logging.ERROR,
                error=type(exc).__name__,
            )

    async def state(self) -> str:
        """``UP`` or ``DOWN``, by a ping (which, while down, waits for the retry time)."""
        try:
            await self.call(self.client.ping)
        except SharedStateUnavailable:
            return "DOWN"
        return "UP"

    async def aclose(self) -> None:
        await self.client.aclose()
