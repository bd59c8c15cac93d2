"""The drift windows on Redis: one window per (task, route) for the whole fleet, so an
alert fires on the fleet's validation-failure rate, not one replica's.

A series is a list (the window of 0/1 samples) and a hash (failures in the window,
the samples that have left it, the alert flag, and the names). One Lua script adds
a sample, judges the window exactly as ``DriftMonitor`` does, and flips the flag:
the replica whose sample flipped it reports the change (metrics, log), once for the
fleet. Samples are sent without the run waiting for them. While Redis is
unavailable, samples go to this replica's own monitor.
"""

from __future__ import annotations

import asyncio

from bff.observe.drift import DriftMonitor, DriftStatus, baseline
from bff.shared.link import RedisLink, SharedStateUnavailable

RECORD = """
local window, min_samples = tonumber(ARGV[2]), tonumber(ARGV[3])
local threshold, expected = tonumber(ARGV[4]), tonumber(ARGV[5])
local sample = tonumber(ARGV[1])
redis.call('RPUSH', KEYS[1], sample)
redis.call('HSET', KEYS[2], 'task', ARGV[6], 'route', ARGV[7])
local failures = redis.call('HINCRBY', KEYS[2], 'failures', sample)
if redis.call('LLEN', KEYS[1]) > window then
  local old = tonumber(redis.call('LPOP', KEYS[1]))
  failures = redis.call('HINCRBY', KEYS[2], 'failures', 0 - old)  -- never "-0"
  redis.call('HINCRBY', KEYS[2], 'past_failures', old)
  redis.call('HINCRBY', KEYS[2], 'past_total', 1)
end
local recent = redis.call('LLEN', KEYS[1])
local past = redis.call('HMGET', KEYS[2], 'past_failures', 'past_total', 'drifting')
local past_failures, past_total = tonumber(past[1] or '0'), tonumber(past[2] or '0')
local baseline = nil
if expected >= 0 then baseline = expected
elseif past_total >= min_samples then baseline = past_failures / past_total end
local drifting, judged = past[3] == '1', false
if baseline ~= nil and recent >= min_samples then
  local excess = failures / recent - baseline
  if drifting then judged = excess >= threshold / 2 else judged = excess >= threshold end
end
if judged ~= drifting then redis.call('HSET', KEYS[2], 'drifting', judged and '1' or '0') end
redis.call('SADD', KEYS[3], KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
redis.call('PEXPIRE', KEYS[2], ARGV[8])
local changed = judged ~= drifting
return {recent, failures, tostring(baseline or -1), judged and 1 or 0, changed and 1 or 0}
"""

SNAPSHOT = """
local out = {}
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local state = redis.call('HMGET', hash, 'task', 'route', 'failures', 'drifting',
                           'past_failures', 'past_total')
  if state[1] == false then
    redis.call('SREM', KEYS[1], hash)
  else
    table.insert(out, {state[1], state[2], redis.call('LLEN', hash .. ':w'), state[3] or '0',
                       state[4] or '0', state[5] or '0', state[6] or '0'})
  end
end
return out
"""

SERIES_TTL_MS = 7 * 86_400_000
"""A series no replica has added to for a week is forgotten."""


class SharedDrift:
    """A ``DriftStore`` on Redis; see the module docstring."""

    def __init__(self, link: RedisLink, local: DriftMonitor) -> None:
        self._link = link
        self._local = local
        self._registry = link.key("drift")
        self._seen: dict[tuple[str, str], DriftStatus] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def record(self, task: str, route: str, *, failed: bool) -> None:
        sending = asyncio.get_running_loop().create_task(self.add(task, route, failed=failed))
        self._sending.add(sending)
        sending.add_done_callback(self._sending.discard)

    async def add(self, task: str, route: str, *, failed: bool) -> None:
        """Add one sample and judge the fleet's window (what ``record`` sends)."""
        policy = self._local.policy
        expected = -1.0 if policy.expected_rate is None else policy.expected_rate
        key = self._link.key("drift", route, task)
        args = [int(failed), policy.window, policy.min_samples, policy.threshold, expected]
        try:
            answer = await self._link.run(
                RECORD, [key + ":w", key, self._registry], [*args, task, route, SERIES_TTL_MS]
            )
        except SharedStateUnavailable:
            self._local.record(task, route, failed=failed)
            return
        recent, failures, baseline, drifting, changed = answer
        found = float(baseline)
        status = DriftStatus(
            task, route, int(recent), int(failures), None if found < 0 else found, bool(drifting)
        )
        self._seen[(task, route)] = status
        if changed and self._local.on_change is not None:
            self._local.on_change(status)

    def statuses(self) -> list[DriftStatus]:
        """The fleet's series as this replica last saw them, and its own while Redis
        was unavailable."""
        found = {(s.task, s.route): s for s in self._local.statuses()}
        found.update(self._seen)
        return [found[key] for key in sorted(found)]

    async def snapshot(self) -> list[DriftStatus]:
        try:
            rows = await self._link.run(SNAPSHOT, [self._registry], [])
        except SharedStateUnavailable:
            return self.statuses()
        policy = self._local.policy
        for row in rows:
            task, route = row[0].decode(), row[1].decode()
            recent, failures, drifting, past_failures, past_total = map(int, row[2:])
            expected = baseline(policy, past_failures, past_total)
            status = DriftStatus(task, route, recent, failures, expected, bool(drifting))
            self._seen[(task, route)] = status
        return self.statuses()

    async def aclose(self) -> None:
        """Wait for the samples still being sent (at shutdown)."""
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=2)
