"""The breakers on Redis: state, failure counts and the half-open probe, shared by every
replica, so a circuit one replica opens is skipped by all of them, and after the
cool-down exactly one replica sends the probe.

Each scope (a route, or a task on a route) is a hash (``open``, ``failures``,
``opened`` in Redis milliseconds) and a probe key held with ``SET NX PX`` for at
most ``probe_lease_s`` (a replica that dies mid-probe frees it that way). One Lua
script lets a call through all its scopes, one records its verdicts: one round
trip each, and none at all for the success of a call whose scopes were clean.
Times come from Redis ``TIME``, so the replicas' clocks need not agree.

While Redis is unavailable the board falls back to this replica's own breakers
(``LocalBoard``); a permit remembers which board let it through.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from bff.resilience.breaker import (
    BreakerState,
    CircuitStatus,
    LocalBoard,
    Permit,
    Verdict,
    closed,
    opened,
)
from bff.shared.link import RedisLink, SharedStateUnavailable

_NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "

ALLOW = (
    _NOW
    + """
local cooldown, lease, token = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local probing, clean = {}, 1
local function refuse(at)
  for j = 1, at - 1 do
    if probing[j] == 1 then redis.call('DEL', KEYS[2 * j]) end
  end
  return {0, at}
end
for i = 1, #KEYS / 2 do
  local state = redis.call('HMGET', KEYS[2 * i - 1], 'open', 'failures', 'opened')
  probing[i] = 0
  if tonumber(state[2] or '0') > 0 then clean = 0 end
  if state[1] == '1' then
    clean = 0
    if now - tonumber(state[3]) < cooldown then return refuse(i) end
    if not redis.call('SET', KEYS[2 * i], token, 'NX', 'PX', lease) then return refuse(i) end
    probing[i] = 1
  end
end
return {1, clean, unpack(probing)}
"""
)

SETTLE = (
    _NOW
    + """
local threshold, token, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local out = {}
for i = 1, (#KEYS - 1) / 2 do
  local hash, probe = KEYS[2 * i - 1], KEYS[2 * i]
  local verdict, probing = ARGV[2 * i + 2], ARGV[2 * i + 3] == '1'
  if probing and redis.call('GET', probe) == token then redis.call('DEL', probe) end
  local was_open = redis.call('HGET', hash, 'open') == '1'
  local event, failures = 0, 0
  if verdict == 'ok' then
    redis.call('DEL', hash)
    if was_open then event = 2 end
  elseif verdict == 'fail' or verdict == 'trip' then
    failures = redis.call('HINCRBY', hash, 'failures', 1)
    redis.call('SADD', KEYS[#KEYS], hash)
    if verdict == 'trip' or probing or failures >= threshold then
      redis.call('HSET', hash, 'open', '1', 'opened', now)
      if probing or not was_open then event = 1 end
    end
    redis.call('PEXPIRE', hash, ttl)
  end
  out[2 * i - 1], out[2 * i] = event, failures
end
return out
"""
)

SNAPSHOT = (
    _NOW
    + """
local cooldown, out = tonumber(ARGV[1]), {}
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local state = redis.call('HMGET', hash, 'open', 'failures', 'opened')
  local name = 'CLOSED'
  if state[1] == '1' then
    name = (now - tonumber(state[3]) < cooldown) and 'OPEN' or 'HALF_OPEN'
  end
  if state[2] == false then redis.call('SREM', KEYS[1], hash) end
  table.insert(out, hash) table.insert(out, name) table.insert(out, state[2] or '0')
end
return out
"""
)

STATE_TTL_MS = 86_400_000
"""A scope's failures are forgotten after a day without another one."""


class SharedBoard:
    """A ``Board`` on Redis; see the module docstring."""

    def __init__(
        self,
        link: RedisLink,
        local: LocalBoard,
        *,
        threshold: int,
        cooldown_s: float,
        probe_lease_s: float,
    ) -> None:
        self._link = link
        self._local = local
        self._threshold = threshold
        self._cooldown_ms = int(cooldown_s * 1000)
        self._lease_ms = max(1, int(probe_lease_s * 1000))
        self._registry = link.key("breakers")
        self._seen: dict[str, CircuitStatus] = {}

    def _keys(self, scopes: Sequence[str]) -> list[str]:
        keys = []
        for key in scopes:
            hash_key = self._link.key("breaker", key)
            keys += [hash_key, hash_key + ":probe"]
        return keys

    async def allow(self, scopes: Sequence[str]) -> Permit | None:
        token = secrets.token_hex(8)
        args = [self._cooldown_ms, self._lease_ms, token]
        try:
            answer = await self._link.run(ALLOW, self._keys(scopes), args)
        except SharedStateUnavailable:
            return self._local.allow_now(scopes)
        for key in scopes:
            self._seen.setdefault(key, CircuitStatus(key, BreakerState.CLOSED, 0))
        if not answer[0]:
            key = scopes[int(answer[1]) - 1]
            self._seen[key] = CircuitStatus(key, BreakerState.OPEN, self._seen[key].failures)
            return None
        probing = tuple(bool(flag) for flag in answer[2:])
        return Permit(tuple(scopes), probing, bool(answer[1]), token)

    async def settle(self, permit: Permit, verdicts: Sequence[Verdict]) -> None:
        if not permit.token:
            self._local.settle_now(permit, verdicts)
            return
        args: list[object] = [self._threshold, permit.token, STATE_TTL_MS]
        for verdict, probing in zip(verdicts, permit.probing, strict=True):
            args += [verdict.value, int(probing)]
        keys = [*self._keys(permit.scopes), self._registry]
        try:
            answer = await self._link.run(SETTLE, keys, args)
        except SharedStateUnavailable:
            return  # the probe lease runs out by itself
        for index, key in enumerate(permit.scopes):
            self._note(key, int(answer[2 * index]), int(answer[2 * index + 1]))

    def _note(self, key: str, event: int, failures: int) -> None:
        """Mirror what a settle found, and log the transitions this replica caused."""
        if event == 1:
            opened(key, failures, self._cooldown_ms / 1000)
            self._seen[key] = CircuitStatus(key, BreakerState.OPEN, failures)
        elif event == 2:
            closed(key)
        if event != 1:
            self._seen[key] = CircuitStatus(key, BreakerState.CLOSED, failures)

    def statuses(self) -> list[CircuitStatus]:
        """What this replica last saw of each circuit (and its own, while Redis is down)."""
        found = {status.key: status for status in self._local.statuses()}
        found.update(self._seen)
        return sorted(found.values(), key=lambda status: status.key)

    async def snapshot(self) -> list[CircuitStatus]:
        try:
            answer = await self._link.run(SNAPSHOT, [self._registry], [self._cooldown_ms])
        except SharedStateUnavailable:
            return self.statuses()
        prefix = self._link.key("breaker", "")
        self._seen = {key: CircuitStatus(key, BreakerState.CLOSED, 0) for key in self._seen}
        for index in range(0, len(answer), 3):
            key = answer[index].decode().removeprefix(prefix)
            state = BreakerState(answer[index + 1].decode())
            self._seen[key] = CircuitStatus(key, state, int(answer[index + 2]))
        return sorted(self._seen.values(), key=lambda status: status.key)
