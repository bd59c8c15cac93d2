"""What the benchmarks' own servers share: ``--port`` and ``--upstream`` (the upstream's
``/v1`` base URL), a ``GET /healthz``, and uvicorn with one worker that keeps idle
connections 75 s, as the BFF and the simulator do (the benchmarks' clients wait between
rounds, past uvicorn's default of 5 s). It imports nothing of ``bff``: the peers'
virtualenv runs it too.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


async def _healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def serve(routes: Callable[[str], list[Route]], description: str | None) -> None:
    """Parse the command line and serve ``routes(upstream)`` and ``/healthz``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the upstream's /v1 base URL")
    args = parser.parse_args()
    app = Starlette(routes=[*routes(args.upstream), Route("/healthz", _healthz, methods=["GET"])])
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", timeout_keep_alive=75)
