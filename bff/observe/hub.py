"""Observability of one app: metrics, the drift monitor and run summary logs, fed by
every finished run (tasks and chat alike)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily

from bff.observe.drift import DriftMonitor, DriftPolicy, DriftStatus, DriftStore
from bff.observe.logs import log_event
from bff.observe.metrics import BREAKER_STATES, Metrics
from bff.resilience.breaker import Board, CircuitStatus, scope
from bff.run import RunMeta

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """One task on one route: its recent output quality and its own circuit."""

    drift: DriftStatus
    breaker: str
    breaker_failures: int


@dataclass(frozen=True, slots=True)
class RouteStatus:
    """One model route as operators see it: its breaker and its recent output quality."""

    route: str
    breaker: str
    recent: int
    failures: int
    baseline: float | None
    drifting: bool
    tasks: list[TaskStatus]

    @property
    def failure_rate(self) -> float:
        return self.failures / self.recent if self.recent else 0.0


class Observability:
    """Implements ``RunObserver``; see the module docstring."""

    def __init__(
        self,
        board: Board,
        drift: DriftPolicy | None = None,
        share: Callable[[DriftMonitor], DriftStore] | None = None,
    ) -> None:
        """``share`` puts the drift windows where the fleet shares them, with this
        process's monitor as the fallback."""
        self.metrics = Metrics()
        local = DriftMonitor(drift, on_change=self._drift_changed)
        self.drift: DriftStore = share(local) if share is not None else local
        self._board = board
        self.metrics.gauge(self._gauges)

    def run_finished(self, meta: RunMeta, outcome: str) -> None:
        self.metrics.observe(meta, outcome)
        for call in meta.calls:
            if call.validation_failure or (call.outcome == "ok" and meta.task != "chat"):
                self.drift.record(meta.task, call.route, failed=call.validation_failure)
        log_event(
            logger,
            "run finished",
            event="run_summary",
            run_id=meta.run_id,
            task=meta.task,
            route=meta.route,
            outcome=outcome,
            attempts=meta.attempts,
            fallback=meta.fallback.value,
            prompt_tokens=meta.prompt_tokens,
            completion_tokens=meta.completion_tokens,
            cost_usd=round(meta.cost_usd, 8),
            latency_ms=round(meta.latency_ms, 3),
            tool_calls=meta.tool_calls,
            errors=[e.kind for e in meta.errors],
            redactions=meta.redactions,
        )

    def refused(self, reason: str) -> None:
        """Count a request the edge refused (unauthenticated, over a limit, bad document)."""
        self.metrics.refusals.labels(reason).inc()
        log_event(logger, "request refused", event="refused", reason=reason)

    @contextmanager
    def stream(self, kind: str) -> Iterator[None]:
        """Count an open SSE stream or subscription while the block runs."""
        gauge = self.metrics.open_streams.labels(kind)
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()

    async def routes(self, configured: list[str]) -> list[RouteStatus]:
        """``configured`` routes first, then any other route seen, with their breakers
        (the fleet's) and drift."""
        circuits = {c.key: c for c in await self._board.snapshot()}
        per_route: dict[str, list[DriftStatus]] = {route: [] for route in configured}
        for status in await self.drift.snapshot():
            per_route.setdefault(status.route, []).append(status)
        for circuit in circuits.values():
            per_route.setdefault(circuit.route, [])
            if circuit.task is not None and all(
                s.task != circuit.task for s in per_route[circuit.route]
            ):
                per_route[circuit.route].append(
                    DriftStatus(circuit.task, circuit.route, 0, 0, None, False)
                )
        return [_route(route, statuses, circuits) for route, statuses in per_route.items()]

    def _gauges(self) -> Iterator[GaugeMetricFamily]:
        breaker = GaugeMetricFamily(
            "bff_breaker_state",
            'Circuit state per route, and per task on a route (task "" for the route\'s '
            "own): 0 closed, 1 half-open, 2 open.",
            labels=["route", "task"],
        )
        for circuit in self._board.statuses():
            state = BREAKER_STATES[circuit.state.value.lower()]
            breaker.add_metric([circuit.route, circuit.task or ""], state)
        yield breaker
        alert = GaugeMetricFamily(
            "bff_drift_alert", "1 while a (task, route) drift alert is raised.",
            labels=["task", "route"],
        )  # fmt: skip
        rate = GaugeMetricFamily(
            "bff_validation_failure_rate", "Validation-failure rate over the drift window.",
            labels=["task", "route"],
        )  # fmt: skip
        for status in self.drift.statuses():
            alert.add_metric([status.task, status.route], float(status.drifting))
            rate.add_metric([status.task, status.route], status.failure_rate)
        yield alert
        yield rate

    def _drift_changed(self, status: DriftStatus) -> None:
        if status.drifting:
            self.metrics.drift_alerts.labels(status.task, status.route).inc()
        log_event(
            logger,
            "drift alert raised" if status.drifting else "drift alert cleared",
            event="drift_alert" if status.drifting else "drift_cleared",
            level=logging.WARNING if status.drifting else logging.INFO,
            task=status.task,
            route=status.route,
            failure_rate=round(status.failure_rate, 4),
            baseline=status.baseline,
            window=status.recent,
        )


def _route(
    route: str, statuses: list[DriftStatus], circuits: dict[str, CircuitStatus]
) -> RouteStatus:
    recent = sum(s.recent for s in statuses)
    baselines = [(s.baseline, s.recent) for s in statuses if s.baseline is not None]
    weight = sum(n for _, n in baselines)
    baseline = sum(b * n for b, n in baselines) / weight if weight else None
    if baseline is None and baselines:
        baseline = baselines[0][0]
    tasks = []
    for status in statuses:
        circuit = circuits.get(scope(route, status.task))
        state, failures = (circuit.state.value, circuit.failures) if circuit else ("CLOSED", 0)
        tasks.append(TaskStatus(status, state, failures))
    own = circuits.get(route)
    return RouteStatus(
        route,
        own.state.value if own else "CLOSED",
        recent,
        sum(s.failures for s in statuses),
        baseline,
        any(s.drifting for s in statuses),
        tasks,
    )
