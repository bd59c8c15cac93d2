"""Prometheus metrics (prometheus-client), in a registry of the app's own.

Labels carry only bounded values: task names (the registry), model routes (the
configuration), error kinds and codes (fixed sets), redaction kinds. No user
input ever becomes a label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from bff.run import Fallback, RunMeta

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


_COUNTERS = {
    # attribute: (name, help, labels)
    "runs": (
        "bff_runs", "Requests (task runs and chats) by outcome.", ("task", "route", "outcome"),
    ),
    "tokens": (
        "bff_tokens", "Tokens used, by direction (prompt or completion).",
        ("task", "route", "direction"),
    ),
    "cost": ("bff_cost_usd", "Spend from the price table, in US dollars.", ("task", "route")),
    "calls": (
        "bff_calls", "Provider calls (attempts and tool rounds) by outcome.",
        ("task", "route", "outcome"),
    ),
    "retries": (
        "bff_retries", "Attempts retried on the same route, by reason.",
        ("task", "route", "reason"),
    ),
    "validation_failures": (
        "bff_validation_failures", "Calls whose output could not become a valid result.",
        ("task", "route", "kind"),
    ),
    "abandoned": (
        "bff_streams_abandoned", "Streams closed early because the output could not be valid.",
        ("task", "route"),
    ),
    "tokens_saved": (
        "bff_abandoned_tokens_saved",
        "Tokens not paid for by abandoning streams (max_tokens minus tokens received).",
        ("task", "route"),
    ),
    "fallbacks": (
        "bff_fallbacks", "Runs answered by a fallback, by kind (model or safe_response).",
        ("task", "kind"),
    ),
    "redactions": ("bff_redactions", "PII values redacted from inputs, by kind.", ("kind",)),
    "budget_refusals": (
        "bff_budget_refusals", "Calls refused before they were made, by budget.",
        ("task", "budget"),
    ),
    "tool_calls": ("bff_tool_calls", "Tool calls the model made.", ("task",)),
    "drift_alerts": ("bff_drift_alerts", "Drift alerts raised.", ("task", "route")),
    "refusals": (
        "bff_refusals",
        "Requests refused at the edge, by reason (unauthenticated, rate, runs, ...).",
        ("reason",),
    ),
}  # fmt: skip


class Metrics:
    """Every metric of the BFF; ``observe`` records one finished run. The counters are
    the attributes named in ``_COUNTERS``."""

    runs: Counter
    tokens: Counter
    cost: Counter
    calls: Counter
    retries: Counter
    validation_failures: Counter
    abandoned: Counter
    tokens_saved: Counter
    fallbacks: Counter
    redactions: Counter
    budget_refusals: Counter
    tool_calls: Counter
    drift_alerts: Counter
    refusals: Counter

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        for attribute, (name, text, labels) in _COUNTERS.items():
            setattr(self, attribute, Counter(name, text, labels, registry=r))
        self.run_seconds = Histogram(
            "bff_run_duration_seconds", "Whole-run latency.", ["task", "outcome"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.first_token_seconds = Histogram(
            "bff_time_to_first_token_seconds", "Time from a call's start to its first token.",
            ["task", "route"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.open_streams = Gauge(
            "bff_open_streams", "Open SSE chat streams and GraphQL subscriptions.",
            ["kind"], registry=r,
        )  # fmt: skip

    def observe(self, meta: RunMeta, outcome: str) -> None:
        task = meta.task
        self.runs.labels(task, meta.route, outcome).inc()
        self.run_seconds.labels(task, outcome).observe(meta.latency_ms / 1000)
        if meta.fallback is not Fallback.NONE:
            self.fallbacks.labels(task, meta.fallback.value.lower()).inc()
        for kind, count in meta.redactions.items():
            self.redactions.labels(kind).inc(count)
        if meta.budget_refused is not None:
            self.budget_refusals.labels(task, meta.budget_refused).inc()
        if meta.tool_calls:
            self.tool_calls.labels(task).inc(meta.tool_calls)
        for call in meta.calls:
            route = call.route
            self.calls.labels(task, route, call.outcome).inc()
            self.tokens.labels(task, route, "prompt").inc(call.prompt_tokens)
            self.tokens.labels(task, route, "completion").inc(call.completion_tokens)
            self.cost.labels(task, route).inc(call.cost_usd)
            if call.first_token_s is not None:
                self.first_token_seconds.labels(task, route).observe(call.first_token_s)
            if call.retried:
                self.retries.labels(task, route, call.outcome).inc()
            if call.validation_failure:
                self.validation_failures.labels(task, route, call.outcome).inc()
            if call.abandoned:
                self.abandoned.labels(task, route).inc()
                self.tokens_saved.labels(task, route).inc(call.tokens_saved)

    def gauge(self, collect: Callable[[], Iterable[Metric]]) -> None:
        """Add metrics computed at scrape time (breaker states, drift, Redis)."""
        self.registry.register(_Scraped(collect))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Scraped(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterator[Metric]:
        yield from self._collect()
