"""What one app owns (providers, breakers, budgets, limits, observability), and what a
GraphQL resolver is handed in its context: those services, and who is calling."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import strawberry

from bff.api.drain import Drain
from bff.api.identity import Authenticator
from bff.budget import ANONYMOUS, DailyLedger
from bff.clients import ClientLimits, Principal
from bff.config import Settings
from bff.observe.hub import Observability
from bff.pipeline import Pipeline
from bff.providers.registry import ProviderRegistry
from bff.ratelimit import ClientGate, Gate
from bff.resilience.breaker import Breakers
from bff.routes import parse_route
from bff.shared.link import RedisLink
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
        breakers = Breakers(
            threshold=settings.breaker_threshold, cooldown_s=settings.breaker_cooldown_s
        )
        self.observability = Observability(breakers, settings.drift_policy)
        self.authenticator = Authenticator(settings)
        ledger = DailyLedger(
            tokens=settings.client_daily_tokens,
            cost_usd=settings.client_daily_cost_usd,
            overrides=self.authenticator.daily,
        )
        self.pipeline = Pipeline(
            self.registry.get,
            settings,
            breakers=breakers,
            ledger=ledger,
            observer=self.observability,
        )
        self.gate = ClientGate()
        # Leave a second and a half of uvicorn's graceful shutdown for the last answers.
        self.drain = Drain(max(0.0, settings.shutdown_timeout_s - 1.5))
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
            fault_switch=bool(self.demo_routes),
        )

    async def aclose(self) -> None:
        await self.registry.aclose()
        if self.link is not None:
            await self.link.aclose()
        await self.authenticator.aclose()


def shared_link(settings: Settings) -> RedisLink | None:
    if settings.redis_url is None:
        return None
    return RedisLink(
        settings.redis_url.get_secret_value(),
        timeout_s=settings.redis_timeout_s,
        prefix=settings.redis_prefix,
    )


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
