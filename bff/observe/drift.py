"""Model drift: a rolling validation-failure rate per (task, model route) against a baseline.

Each structured call that reached a verdict is a sample: failed when its output
could not become a valid result, passed when it did (provider errors and tool
rounds are not samples). The window holds the last ``window`` samples. The
baseline is the configured expected rate, or else the long-run rate of every
sample that has left the window (none until ``min_samples`` have). An alert
raises when the window holds at least ``min_samples`` and its rate exceeds the
baseline by ``threshold`` or more, and clears when the excess falls below half
the threshold (so a rate hovering at the edge does not flap).

Pure: no I/O; ``on_change`` is told of each raise and clear. The windows of a
fleet of replicas live on Redis instead (``bff.shared.drift``), behind the same
``DriftStore`` interface, with this monitor as its fallback.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    window: int = 50
    min_samples: int = 20
    threshold: float = 0.2
    expected_rate: float | None = None


@dataclass(frozen=True, slots=True)
class DriftStatus:
    task: str
    route: str
    recent: int
    """Samples in the window."""
    failures: int
    """Failed samples in the window."""
    baseline: float | None
    drifting: bool

    @property
    def failure_rate(self) -> float:
        return self.failures / self.recent if self.recent else 0.0


@dataclass(slots=True)
class _Series:
    window: deque[bool]
    past_failures: int = 0
    past_total: int = 0
    drifting: bool = False
    failures: int = field(default=0)

    def add(self, failed: bool) -> None:
        if len(self.window) == self.window.maxlen:
            old = self.window.popleft()
            self.failures -= old
            self.past_failures += old
            self.past_total += 1
        self.window.append(failed)
        self.failures += failed


def baseline(policy: DriftPolicy, past_failures: int, past_total: int) -> float | None:
    """The rate a window is judged against: the expected one, or else the long-run rate
    of the samples that have left the window (none until ``min_samples`` have)."""
    if policy.expected_rate is not None:
        return policy.expected_rate
    if past_total < policy.min_samples:
        return None
    return past_failures / past_total


class DriftStore(Protocol):
    """Where the windows live: this process (``DriftMonitor``) or the fleet's Redis."""

    def record(self, task: str, route: str, *, failed: bool) -> None:
        """Add one sample (the shared store sends it without waiting)."""
        ...

    def statuses(self) -> list[DriftStatus]:
        """What this replica knows of every series, sorted (for metrics)."""
        ...

    async def snapshot(self) -> list[DriftStatus]:
        """Every series of the fleet, sorted."""
        ...


class DriftMonitor:
    """See the module docstring."""

    def __init__(
        self,
        policy: DriftPolicy | None = None,
        on_change: Callable[[DriftStatus], None] | None = None,
    ) -> None:
        self.policy = policy or DriftPolicy()
        self.on_change = on_change
        self._series: dict[tuple[str, str], _Series] = {}

    def record(self, task: str, route: str, *, failed: bool) -> None:
        series = self._series.get((task, route))
        if series is None:
            series = self._series[(task, route)] = _Series(deque(maxlen=self.policy.window))
        series.add(failed)
        status = self._status(task, route, series)
        drifting = self._judge(status, series.drifting)
        if drifting != series.drifting:
            series.drifting = drifting
            if self.on_change is not None:
                self.on_change(self._status(task, route, series))

    def statuses(self) -> list[DriftStatus]:
        return [self._status(t, r, s) for (t, r), s in sorted(self._series.items())]

    async def snapshot(self) -> list[DriftStatus]:
        return self.statuses()

    def _baseline(self, series: _Series) -> float | None:
        return baseline(self.policy, series.past_failures, series.past_total)

    def _status(self, task: str, route: str, series: _Series) -> DriftStatus:
        return DriftStatus(
            task, route, len(series.window), series.failures, self._baseline(series),
            series.drifting,
        )  # fmt: skip

    def _judge(self, status: DriftStatus, drifting: bool) -> bool:
        if status.baseline is None or status.recent < self.policy.min_samples:
            return False
        excess = status.failure_rate - status.baseline
        return excess >= self.policy.threshold / 2 if drifting else excess >= self.policy.threshold
