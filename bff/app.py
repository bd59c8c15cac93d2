"""The ASGI application: every route of the BFF, mounted on one Starlette app."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from bff import __version__
from bff.api.chat import ChatPolicy, chat_endpoint
from bff.api.demo_faults import demo_faults_endpoint
from bff.api.drain import Drain
from bff.api.frontend import frontend_app, operations_endpoint, packaged_operations
from bff.api.graphql_http import GraphQLEdge, GraphQLView
from bff.api.guard import GuardMiddleware
from bff.api.headers import SecurityHeadersMiddleware
from bff.api.identity import Authenticator
from bff.api.limits import BodyLimitMiddleware
from bff.api.schema import build_schema
from bff.api.trusted import TrustedDocuments
from bff.budget import DailyLedger
from bff.chat import ChatRunner
from bff.config import Settings
from bff.demo.tasks import reference_tasks
from bff.observe.hub import Observability
from bff.observe.logs import RequestIdMiddleware
from bff.pipeline import Pipeline
from bff.providers.registry import ProviderRegistry
from bff.ratelimit import ClientGate
from bff.resilience.breaker import Breakers
from bff.routes import parse_route
from bff.server import AdminSplit
from bff.tasks import TaskRegistry


def create_app(settings: Settings, tasks: TaskRegistry | None = None) -> Starlette:
    """Build the app serving ``tasks`` (the reference tasks by default).

    Providers open on first use and close on shutdown. With ``admin_port`` set,
    ``app.state.asgi`` is what to serve: the app, plus ``/metrics`` on that port.
    """
    tasks = reference_tasks() if tasks is None else tasks
    production = settings.production
    registry = ProviderRegistry(settings)
    breakers = Breakers(
        threshold=settings.breaker_threshold, cooldown_s=settings.breaker_cooldown_s
    )
    observability = Observability(breakers, settings.drift_policy)
    authenticator = Authenticator(settings)
    ledger = DailyLedger(
        tokens=settings.client_daily_tokens,
        cost_usd=settings.client_daily_cost_usd,
        overrides=authenticator.daily,
    )
    pipeline = Pipeline(
        registry.get, settings, breakers=breakers, ledger=ledger, observer=observability
    )
    gate = ClientGate()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await registry.aclose()
            await authenticator.aclose()

    async def healthz(request: Request) -> JSONResponse:
        if production:  # liveness only: nothing about routes or tasks to strangers
            return JSONResponse({"status": "ok"})
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
    operations = packaged_operations()
    edge = GraphQLEdge(
        authenticator,
        gate,
        TrustedDocuments.of(operations, only=settings.trusted_documents == "only"),
        settings.max_response_bytes,
        settings.max_document_tokens,
        graphiql=not production,
        refused=observability.refused,
    )
    schema = build_schema(tasks, pipeline, settings, observability, gate=gate, drain=drain)
    graphql = GraphQLView(schema, drain, edge)
    runner = ChatRunner(
        registry.get, settings, plans=pipeline.plan, spends=pipeline.spend, observer=observability
    )
    policy = ChatPolicy(
        ping_s=settings.sse_ping_s,
        drain_s=drain.window_s,
        gate=gate,
        allow_client_system=settings.chat_allow_client_system,
        detailed=not production,
    )
    chat = chat_endpoint(runner, policy, streams=observability.stream)

    async def metrics(request: Request) -> Response:
        token = settings.metrics_token
        if token is not None and settings.admin_port is None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            expected = token.get_secret_value().encode()
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected):
                return JSONResponse(
                    {"error": {"code": "UNAUTHENTICATED", "message": "the metrics token"}},
                    status_code=401,
                    headers={"www-authenticate": 'Bearer realm="metrics"'},
                )
        return Response(observability.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/chat/stream", chat, methods=["POST"]),
        Route("/operations.json", operations_endpoint(operations), methods=["GET"]),
    ]
    # Metrics: on the admin port, or behind a token, or (in development only) open.
    if settings.admin_port is None and (settings.metrics_token is not None or not production):
        routes.append(Route("/metrics", metrics, methods=["GET"]))
    demo_routes = [] if production else _demo_routes(settings, tasks, pipeline)
    if demo_routes:
        demo = demo_faults_endpoint(lambda: registry.demo(), demo_routes, settings.demo_fault_seed)
        routes.append(Route("/demo/faults", demo, methods=["GET", "PUT"]))
    middleware = [Middleware(RequestIdMiddleware), Middleware(SecurityHeadersMiddleware)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-api-key", "x-request-id"],
                expose_headers=["retry-after", "x-request-id"],
                max_age=600,
            )
        )
    middleware += [
        Middleware(
            BodyLimitMiddleware, limit=settings.max_body_bytes, timeout_s=settings.body_timeout_s
        ),
        Middleware(GuardMiddleware, authenticator=authenticator, gate=gate, refused=edge.refused),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    # The page's files answer paths no route has: a route's other methods still get 405.
    app.router.default = frontend_app()
    app.state.drain = drain
    app.state.asgi = app
    if settings.admin_port is not None:
        admin = Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])
        app.state.asgi = AdminSplit(app, admin, settings.admin_port)
    return app


def _demo_routes(settings: Settings, tasks: TaskRegistry, pipeline: Pipeline) -> list[str]:
    """The demo routes requests may take, in order (the fault switch's choices)."""
    every = [str(r) for r in settings.routes] + [r for t in tasks for r in pipeline.routes(t)]
    return [r for r in dict.fromkeys(every) if parse_route(r).provider == "demo"]
