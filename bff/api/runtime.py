"""What one app owns (providers, breakers, budgets, limits, observability), and what a
GraphQL resolver is handed in its context: those services, and who is calling."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from typing import Any

import strawberry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from bff.api.chat_streams import ChatStreams, chat_streams
from bff.api.drain import Drain
from bff.api.identity import Authenticator
from bff.budget import ANONYMOUS, DailyLedger, Ledger
from bff.clients import ClientLimits, Principal
from bff.config import Settings
from bff.observe.drift import DriftMonitor, DriftStore
from bff.observe.hub import Observability
from bff.pipeline import Pipeline
from bff.providers.registry import ProviderRegistry
from bff.ratelimit import ClientGate, Gate
from bff.resilience.breaker import Board, Breakers, LocalBoard
from bff.retrieval import CorpusRetriever
from bff.routes import parse_route
from bff.shared.breakers import SharedBoard
from bff.shared.budget import SharedLedger
from bff.shared.drift import SharedDrift
from bff.shared.link import RedisLink
from bff.shared.ratelimit import SharedGate
from bff.tasks import TaskRegistry

IN_PROCESS = Principal(ANONYMOUS, ANONYMOUS, ClientLimits(None, 1_000_000, 1_000_000), False)
"""The caller of a schema run in-process, without the HTTP edge."""


@dataclass(frozen=True, slots=True)
class HealthInfo:
    """What ``/healthz`` and the ``health`` query say about this BFF."""

    version: str
    model: str
    fallback_models: tuple[str, ...]
    tasks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Services:
    """What the schema's resolvers call, handed to them in the GraphQL context."""

    pipeline: Pipeline
    observability: Observability
    gate: Gate
    health: HealthInfo
    routes: tuple[str, ...]
    """Every configured route: the settings' and the tasks' own, in order."""
    drain: Drain | None = None
    detailed: bool = True
    """Clients may read the BFF's own error details (development)."""
    link: RedisLink | None = None
    """The Redis the replicas share state on, if any."""
    fault_switch: bool = False
    """``/demo/faults`` is served."""


class Runtime:
    """The parts of one app, built from its settings and tasks; closed at shutdown."""

    def __init__(self, settings: Settings, tasks: TaskRegistry) -> None:
        self.settings = settings
        self.tasks = tasks
        self.registry = ProviderRegistry(settings)
        self.link = shared_link(settings)
        """The Redis the replicas share state on; None: everything stays in process."""
        board = breaker_board(settings, self.link)
        self.shared_drift: SharedDrift | None = None
        self.observability = Observability(board, settings.drift_policy, self._share_drift)
        if self.link is not None:
            self.observability.metrics.gauge(partial(_redis_metrics, self.link))
        self.authenticator = Authenticator(settings)
        ledger = daily_ledger(settings, self.link, self.authenticator.daily)
        self.retriever = CorpusRetriever(settings)
        self.pipeline = Pipeline(
            self.registry.get,
            settings,
            board=board,
            ledger=ledger,
            observer=self.observability,
            retriever=self.retriever,
        )
        self.gate: Gate = ClientGate()
        if self.link is not None:
            # A lease outlasts the longest run: a request's deadline, then a stream's grace.
            lease_s = settings.request_timeout_s + settings.stream_resume_grace_s + 60
            self.gate = SharedGate(self.link, ClientGate(), lease_s=lease_s)
        # Leave a second and a half of uvicorn's graceful shutdown for the last answers.
        self.drain = Drain(max(0.0, settings.shutdown_timeout_s - 1.5))
        self.chat_streams: ChatStreams = chat_streams(settings, self.link, self.drain)
        """The chat runs, and their streams kept for resuming."""
        routes = [str(r) for r in settings.routes]
        routes += [r for task in tasks for r in self.pipeline.routes(task)]
        self.routes = tuple(dict.fromkeys(routes))

    @property
    def demo_routes(self) -> list[str]:
        """The demo routes requests may take (the fault switch's choices); none in
        production, where the switch is off."""
        if self.settings.production:
            return []
        return [r for r in self.routes if parse_route(r).provider == "demo"]

    def services(self) -> Services:
        settings = self.settings
        health = HealthInfo(
            version=version("llm-bff"),
            model=settings.model,
            fallback_models=tuple(settings.fallback_models),
            tasks=tuple(task.name for task in self.tasks),
        )
        return Services(
            self.pipeline,
            self.observability,
            self.gate,
            health,
            self.routes,
            drain=self.drain,
            detailed=not settings.production,
            link=self.link,
            fault_switch=bool(self.demo_routes),
        )

    def _share_drift(self, local: DriftMonitor) -> DriftStore:
        if self.link is None:
            return local
        self.shared_drift = SharedDrift(self.link, local)
        return self.shared_drift

    async def aclose(self) -> None:
        await self.chat_streams.aclose()  # ends the runs, before their providers close
        await self.registry.aclose()
        self.retriever.close()
        if self.shared_drift is not None:
            await self.shared_drift.aclose()
        if self.link is not None:
            await self.link.aclose()
        await self.authenticator.aclose()


def _redis_metrics(link: RedisLink) -> Iterator[Metric]:
    up = GaugeMetricFamily("bff_redis_up", "1 while the fleet's Redis answers, else 0.")
    up.add_metric([], float(link.up))
    yield up
    failed = CounterMetricFamily(
        "bff_redis_unavailable", "Shared-state commands that found Redis unavailable."
    )
    failed.add_metric([], link.failures)
    yield failed


def breaker_board(settings: Settings, link: RedisLink | None) -> Board:
    """The breakers: this process's own, or the fleet's on Redis (with them as fallback)."""
    local = LocalBoard(
        Breakers(threshold=settings.breaker_threshold, cooldown_s=settings.breaker_cooldown_s)
    )
    if link is None:
        return local
    return SharedBoard(
        link,
        local,
        threshold=settings.breaker_threshold,
        cooldown_s=settings.breaker_cooldown_s,
        probe_lease_s=settings.request_timeout_s + 5,
    )


def shared_link(settings: Settings) -> RedisLink | None:
    if settings.redis_url is None:
        return None
    return RedisLink(
        settings.redis_url.get_secret_value(),
        timeout_s=settings.redis_timeout_s,
        prefix=settings.redis_prefix,
    )


def daily_ledger(
    settings: Settings,
    link: RedisLink | None,
    overrides: Mapping[str, tuple[int | None, float | None]],
) -> Ledger:
    """The clients' daily budgets: on Redis, shared by the replicas, when there is a
    link; else in this process."""
    tokens, cost_usd = settings.client_daily_tokens, settings.client_daily_cost_usd
    if link is None:
        return DailyLedger(tokens=tokens, cost_usd=cost_usd, overrides=overrides)
    # A hold outlives the longest run that could settle it.
    hold_s = settings.request_timeout_s + 60
    return SharedLedger(link, tokens=tokens, cost_usd=cost_usd, overrides=overrides, hold_s=hold_s)


def services(info: strawberry.Info) -> Services:
    """The services of the app a resolver runs in."""
    found: Services = _context(info)["services"]
    return found


def principal(info: strawberry.Info) -> Principal:
    """The caller, as the edge authenticated it (HTTP request or WebSocket)."""
    found: Principal | None = _context(info).get("principal")
    return found or IN_PROCESS


def _context(info: strawberry.Info) -> dict[str, Any]:
    context: dict[str, Any] = info.context or {}
    return context
