"""The ``bff`` command: ``serve`` the BFF, ``simulate`` an OpenAI-compatible provider."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import uvicorn

from bff.api.drain import Drain
from bff.config import load_settings
from bff.exceptions import ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bff", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the BFF (GraphQL, SSE chat, demo page)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--config", type=Path, help="TOML config file (environment wins)")
    serve.add_argument(
        "--tasks", metavar="MODULE:ATTR", help="serve these tasks instead of the reference tasks"
    )

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument(
        "--tasks",
        metavar="MODULE:ATTR",
        help="the schema for these tasks instead of the reference tasks",
    )

    simulate = commands.add_parser("simulate", help="serve the OpenAI-compatible simulator")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=9100)
    simulate.add_argument(
        "--chunk-delay", type=float, default=0.0, metavar="S", help="seconds between chunks"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "export-schema":
        return _export_schema(args)
    return _simulate(args)


def _serve(args: argparse.Namespace) -> int:
    from bff.app import create_app
    from bff.observe.logs import configure_logging
    from bff.tasks import load_tasks

    try:
        settings = load_settings(args.config)
        tasks = load_tasks(args.tasks) if args.tasks else None
    except ConfigError as exc:
        print(f"bff: invalid setting {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    app = create_app(settings, tasks)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,  # JSON lines through the root logger (bff.observe.logs)
        access_log=False,  # the app logs its own access lines, without query strings
        log_level=settings.log_level,
        ws="websockets-sansio",
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout_s),
        timeout_keep_alive=math.ceil(settings.keep_alive_s),
    )
    _DrainingServer(config, app.state.drain).run()
    return 0


class _DrainingServer(uvicorn.Server):
    """Tells the app when shutdown begins, so requests in flight can be drained."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self._drain = drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._drain.begin()
        super().handle_exit(sig, frame)


def _export_schema(args: argparse.Namespace) -> int:
    from bff.api.schema import build_schema
    from bff.config import Settings
    from bff.demo.tasks import reference_tasks
    from bff.pipeline import Pipeline
    from bff.providers.registry import ProviderRegistry
    from bff.tasks import load_tasks

    try:
        tasks = load_tasks(args.tasks) if args.tasks else reference_tasks()
    except ConfigError as exc:
        print(f"bff: invalid setting {exc}", file=sys.stderr)
        return 2
    # The schema depends on the tasks only; default settings keep the output stable.
    settings = Settings.model_construct()
    pipeline = Pipeline(ProviderRegistry(settings).get, settings)
    print(build_schema(tasks, pipeline, settings).as_str())
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from bff.testing.simulator import Simulator

    simulator = Simulator(chunk_delay=args.chunk_delay)
    # A long keep-alive, as real providers have: load tests reuse their connections.
    uvicorn.run(
        simulator.app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=75
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
