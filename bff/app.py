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

from bff.api.chat import ChatPolicy, cancel_endpoint, chat_endpoint, resume_endpoint
from bff.api.cost import OperationLimits
from bff.api.demo_faults import demo_faults_endpoint
from bff.api.errors import Endpoint, json_error
from bff.api.frontend import frontend_app, operations_endpoint, packaged_operations
from bff.api.graphql_http import GraphQLEdge, GraphQLView
from bff.api.guard import GuardMiddleware
from bff.api.headers import SecurityHeadersMiddleware
from bff.api.limits import BodyLimitMiddleware
from bff.api.request_id import RequestIdMiddleware
from bff.api.runtime import Runtime, Services
from bff.api.schema import build_schema
from bff.api.trusted import TrustedDocuments
from bff.chat import ChatRunner
from bff.config import Settings
from bff.server import AdminSplit
from bff.tasks import TaskRegistry


def create_app(settings: Settings, tasks: TaskRegistry | None = None) -> Starlette:
    """Build the app serving ``tasks`` (the reference tasks by default).

    Providers open on first use and close on shutdown. ``app.state.asgi`` is what to
    serve: the app, plus ``/metrics`` on ``admin_port`` when one is set;
    ``app.state.drain`` is the drain the server begins at shutdown;
    ``app.state.chat_streams`` the chat runs and their streams.
    """
    if tasks is None:
        from bff.demo.tasks import reference_tasks  # the sample app, as the default

        tasks = reference_tasks()
    runtime = Runtime(settings, tasks)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await runtime.aclose()

    services = runtime.services()
    app = Starlette(
        routes=_routes(runtime, services),
        middleware=_middleware(runtime),
        lifespan=lifespan,
    )
    # The page's files answer paths no route has: a route's other methods still get 405.
    app.router.default = frontend_app()
    app.state.drain = runtime.drain
    app.state.chat_streams = runtime.chat_streams
    app.state.asgi = app
    if settings.admin_port is not None:
        admin = Starlette(routes=[Route("/metrics", _metrics(runtime), methods=["GET"])])
        app.state.asgi = AdminSplit(app, admin, settings.admin_port)
    return app


def _routes(runtime: Runtime, services: Services) -> list[BaseRoute]:
    settings = runtime.settings
    operations = packaged_operations()
    graphql = _graphql(runtime, services, TrustedDocuments.of(
        operations, only=settings.trusted_documents == "only"
    ))  # fmt: skip
    policy = ChatPolicy(
        ping_s=settings.sse_ping_s,
        drain_s=runtime.drain.window_s,
        gate=runtime.gate,
        allow_client_system=settings.chat_allow_client_system,
        detailed=services.detailed,
    )
    hub = runtime.chat_streams
    chat = chat_endpoint(ChatRunner(runtime.pipeline), policy, hub, runtime.observability.stream)
    routes: list[BaseRoute] = [
        Route("/healthz", _healthz(services), methods=["GET"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/chat/stream", chat, methods=["POST"]),
        Route("/chat/stream/{stream_id}", resume_endpoint(hub, policy), methods=["GET"]),
        Route("/chat/stream/{stream_id}", cancel_endpoint(hub), methods=["DELETE"]),
        Route("/operations.json", operations_endpoint(operations), methods=["GET"]),
    ]
    # Metrics: on the admin port, or behind a token, or (in development only) open.
    if settings.admin_port is None and (settings.metrics_token or not settings.production):
        routes.append(Route("/metrics", _metrics(runtime), methods=["GET"]))
    if runtime.demo_routes:
        demo = demo_faults_endpoint(
            runtime.registry.demo, runtime.demo_routes, settings.demo_fault_seed
        )
        routes.append(Route("/demo/faults", demo, methods=["GET", "PUT"]))
    return routes


def _graphql(runtime: Runtime, services: Services, trusted: TrustedDocuments) -> GraphQLView:
    settings = runtime.settings
    limits = OperationLimits(
        max_tasks=settings.max_tasks_per_operation,
        max_aliases=settings.max_aliases,
        max_depth=settings.max_depth,
        max_tokens=settings.max_document_tokens,
    )
    schema = build_schema(runtime.tasks, limits=limits, production=settings.production)
    edge = GraphQLEdge(
        runtime.authenticator,
        runtime.gate,
        trusted,
        settings.max_response_bytes,
        settings.max_document_tokens,
        graphiql=not settings.production,
        origins=tuple(settings.cors_origins),
        refused=runtime.observability.refused,
    )
    return GraphQLView(schema, services, edge)


def _middleware(runtime: Runtime) -> list[Middleware]:
    settings = runtime.settings
    middleware = [Middleware(RequestIdMiddleware), Middleware(SecurityHeadersMiddleware)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=[
                    "authorization",
                    "content-type",
                    "last-event-id",
                    "x-api-key",
                    "x-request-id",
                ],
                expose_headers=["bff-stream-id", "retry-after", "x-request-id"],
                max_age=600,
            )
        )
    return [
        *middleware,
        Middleware(
            BodyLimitMiddleware, limit=settings.max_body_bytes, timeout_s=settings.body_timeout_s
        ),
        Middleware(
            GuardMiddleware,
            authenticator=runtime.authenticator,
            gate=runtime.gate,
            refused=runtime.observability.refused,
        ),
    ]


def _healthz(services: Services) -> Endpoint:
    health = services.health
    body: dict[str, object] = {"status": "ok"}
    if services.detailed:  # in production: liveness only, nothing about routes or tasks
        body |= {
            "version": health.version,
            "model": health.model,
            "fallbackModels": list(health.fallback_models),
            "tasks": list(health.tasks),
        }

    link = services.link if services.detailed else None

    async def healthz(request: Request) -> JSONResponse:
        if link is None:
            return JSONResponse(body)
        return JSONResponse({**body, "sharedState": await link.state()})

    return healthz


def _metrics(runtime: Runtime) -> Endpoint:
    settings = runtime.settings
    token = settings.metrics_token if settings.admin_port is None else None

    async def metrics(request: Request) -> Response:
        if token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            expected = token.get_secret_value().encode()
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected):
                response = json_error(401, "UNAUTHENTICATED", "send the metrics token")
                response.headers["www-authenticate"] = 'Bearer realm="metrics"'
                return response
        return Response(runtime.observability.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return metrics
