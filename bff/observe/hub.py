"""Observability of one app: metrics, the drift monitor and run summary logs, fed by
every finished run (tasks and chat alike)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily

from bff.observe.drift import DriftMonitor, DriftPolicy, DriftStatus
from bff.observe.logs import log_event
from bff.observe.metrics import BREAKER_STATES, Metrics
from bff.resilience.breaker import Breakers
from bff.run import RunMeta

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RouteStatus:
    """One model route as operators see it: its breaker and its recent output quality."""

    route: str
    breaker: str
    recent: int
    failures: int
    baseline: float | None
    drifting: bool
    tasks: list[DriftStatus]

    @property
    def failure_rate(self) -> float:
        return self.failures / self.recent if self.recent else 0.0


class Observability:
    """Implements ``RunObserver``; see the module docstring."""

    def __init__(self, breakers: Breakers, drift: DriftPolicy | None = None) -> None:
        self.metrics = Metrics()
        self.drift = DriftMonitor(drift, on_change=self._drift_changed)
        self._breakers = breakers
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

    def routes(self, configured: list[str]) -> list[RouteStatus]:
        """``configured`` routes first, then any other route seen, with breaker and drift."""
        breakers = {route: breaker.state.value for route, breaker in self._breakers}
        per_route: dict[str, list[DriftStatus]] = {route: [] for route in configured}
        for status in self.drift.statuses():
            per_route.setdefault(status.route, []).append(status)
        for route in breakers:
            per_route.setdefault(route, [])
        out = []
        for route, statuses in per_route.items():
            recent = sum(s.recent for s in statuses)
            baselines = [(s.baseline, s.recent) for s in statuses if s.baseline is not None]
            weight = sum(n for _, n in baselines)
            baseline = sum(b * n for b, n in baselines) / weight if weight else None
            if baseline is None and baselines:
                baseline = baselines[0][0]
            out.append(
                RouteStatus(
                    route,
                    breakers.get(route, "CLOSED"),
                    recent,
                    sum(s.failures for s in statuses),
                    baseline,
                    any(s.drifting for s in statuses),
                    statuses,
                )
            )
        return out

    def _gauges(self) -> Iterator[GaugeMetricFamily]:
        breaker = GaugeMetricFamily(
            "bff_breaker_state", "Circuit state per route: 0 closed, 1 half-open, 2 open.",
            labels=["route"],
        )  # fmt: skip
        for route, item in self._breakers:
            breaker.add_metric([route], BREAKER_STATES[item.state.value.lower()])
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
