"""The ASGI application: every route of the BFF, mounted on one Starlette app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bff import __version__
from bff.config import Settings
from bff.providers.registry import ProviderRegistry


def create_app(settings: Settings) -> Starlette:
    """Build the app; providers open on first use and close on shutdown."""
    registry = ProviderRegistry(settings)

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
            }
        )

    app = Starlette(routes=[Route("/healthz", healthz, methods=["GET"])], lifespan=lifespan)
    app.state.settings = settings
    app.state.providers = registry
    return app
