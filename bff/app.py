"""The ASGI application: every route of the BFF, mounted on one Starlette app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from bff import __version__
from bff.api.chat import chat_endpoint
from bff.api.demo_faults import demo_faults_endpoint
from bff.api.drain import Drain
from bff.api.frontend import Frontend, asset_dir, no_frontend, operations_endpoint
from bff.api.graphql_http import GraphQLView
from bff.api.limits import BodyLimitMiddleware
from bff.api.schema import build_schema
from bff.chat import ChatRunner
from bff.config import Settings
from bff.demo.tasks import reference_tasks
from bff.observe.hub import Observability
from bff.observe.logs import RequestIdMiddleware
from bff.pipeline import Pipeline
from bff.providers.registry import ProviderRegistry
from bff.resilience.breaker import Breakers
from bff.routes import parse_route
from bff.tasks import TaskRegistry


def create_app(settings: Settings, tasks: TaskRegistry | None = None) -> Starlette:
    """Build the app serving ``tasks`` (the reference tasks by default).

    Providers open on first use and close on shutdown.
    """
    tasks = reference_tasks() if tasks is None else tasks
    registry = ProviderRegistry(settings)
    breakers = Breakers(
        threshold=settings.breaker_threshold, cooldown_s=settings.breaker_cooldown_s
    )
    observability = Observability(breakers, settings.drift_policy)
    pipeline = Pipeline(registry.get, settings, breakers=breakers, observer=observability)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await registry.aclose()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "model": settings.model,
                "fallbackModels": settings.fallback_models,
                "tasks": [task.name for task in tasks],
            }
        )

    # Leave a second and a half of uvicorn's graceful shutdown for the last answers.
    drain = Drain(max(0.0, settings.shutdown_timeout_s - 1.5))
    graphql = GraphQLView(build_schema(tasks, pipeline, settings, observability), drain)
    runner = ChatRunner(
        registry.get, settings, plans=pipeline.plan, spends=pipeline.spend, observer=observability
    )
    chat = chat_endpoint(
        runner, ping_s=settings.sse_ping_s, drain_s=drain.window_s, streams=observability.stream
    )

    async def metrics(request: Request) -> Response:
        return Response(observability.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/chat/stream", chat, methods=["POST"]),
        Route("/operations.json", operations_endpoint(), methods=["GET"]),
    ]
    demo_routes = _demo_routes(settings, tasks, pipeline)
    if demo_routes:
        demo = demo_faults_endpoint(lambda: registry.demo(), demo_routes, settings.demo_fault_seed)
        routes.append(Route("/demo/faults", demo, methods=["GET", "PUT"]))
    frontend = asset_dir("frontend")
    if frontend is not None:
        routes.append(Mount("/", app=Frontend(directory=frontend, html=True)))
    else:
        routes.append(Route("/", no_frontend, methods=["GET"]))
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(BodyLimitMiddleware, limit=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.providers = registry
    app.state.tasks = tasks
    app.state.pipeline = pipeline
    app.state.observability = observability
    app.state.drain = drain
    return app


def _demo_routes(settings: Settings, tasks: TaskRegistry, pipeline: Pipeline) -> list[str]:
    """The demo routes requests may take, in order (the fault switch's choices)."""
    every = [str(r) for r in settings.routes] + [r for t in tasks for r in pipeline.routes(t)]
    return [r for r in dict.fromkeys(every) if parse_route(r).provider == "demo"]
