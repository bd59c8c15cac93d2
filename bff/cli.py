"""The ``bff`` command: ``serve`` the BFF, ``simulate`` an OpenAI-compatible provider,
``eval`` a task on its golden dataset (``bff eval --help``), ``index`` a corpus folder
for context retrieval."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from bff.config import cached_index_file, load_settings
from bff.exceptions import ConfigError, ContextError


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

    # ``bff eval`` parses its own arguments (bff.evals.command); listed here for --help.
    commands.add_parser(
        "eval",
        help="score a task on its golden dataset; `eval compare`, `eval report` (see --help)",
        add_help=False,
    )

    index = commands.add_parser(
        "index", help="build or update the context index of a corpus folder (docs/context.md)"
    )
    index.add_argument(
        "path", nargs="?", type=Path, metavar="PATH", help="the corpus (default: BFF_CORPUS_PATH)"
    )
    index.add_argument("--config", type=Path, help="TOML config file (environment wins)")

    simulate = commands.add_parser("simulate", help="serve the OpenAI-compatible simulator")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=9100)
    simulate.add_argument(
        "--chunk-delay", type=float, default=0.0, metavar="S", help="seconds between chunks"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["eval"]:
        return _eval(given[1:])
    args = _parser().parse_args(given)
    if args.command == "serve":
        return _serve(args)
    if args.command == "export-schema":
        return _export_schema(args)
    if args.command == "index":
        return _index(args)
    return _simulate(args)


def _serve(args: argparse.Namespace) -> int:
    from bff.app import create_app
    from bff.observe.logs import configure_logging
    from bff.server import DrainingServer, server_config
    from bff.tasks import load_tasks

    try:
        settings = load_settings(args.config).for_host(args.host)
        tasks = load_tasks(args.tasks) if args.tasks else None
    except ConfigError as exc:
        return _refuse(exc)
    configure_logging(settings.log_level)
    app = create_app(settings, tasks)
    config = server_config(app.state.asgi, settings, args.host, args.port)
    try:
        sockets = [config.bind_socket()]
        if settings.admin_port is not None:
            host, port = settings.admin_host, settings.admin_port
            sockets.append(server_config(app.state.asgi, settings, host, port).bind_socket())
    except SystemExit:  # uvicorn has logged why it could not listen
        return 1
    DrainingServer(config, app.state.drain).run(sockets=sockets)
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from bff.api.schema import build_schema
    from bff.tasks import load_tasks

    try:
        if args.tasks:
            tasks = load_tasks(args.tasks)
        else:
            from bff.demo.tasks import reference_tasks

            tasks = reference_tasks()
    except ConfigError as exc:
        return _refuse(exc)
    print(build_schema(tasks).as_str())
    return 0


def _eval(argv: list[str]) -> int:
    from bff.evals.command import main as eval_main
    from bff.tasks import TaskRegistry, load_tasks

    def tasks_for(spec: str | None) -> TaskRegistry:
        if spec:
            return load_tasks(spec)
        from bff.demo.tasks import reference_tasks

        return reference_tasks()

    return eval_main(argv, tasks_for)


def _index(args: argparse.Namespace) -> int:
    """Index PATH (else the configured corpus) into BFF_CONTEXT_INDEX_PATH (else the cache
    file named after that folder) and print what changed."""
    from bff.context import FtsIndex
    from bff.context.corpus import corpus_root

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        return _refuse(exc)
    corpus = args.path or settings.corpus_path
    index_file = settings.context_index_path or cached_index_file(corpus)
    started = time.perf_counter()
    try:
        corpus_root(corpus)  # a mistyped folder must not leave an empty index behind
        with FtsIndex(index_file) as index:
            report = index.update(corpus)
    except ContextError as exc:
        print(f"bff index: {exc}", file=sys.stderr)
        return 2
    print(f"indexed {corpus} into {index_file} in {time.perf_counter() - started:.2f} s")
    print(
        f"files: {report.added} added, {report.changed} changed, {report.removed} removed, "
        f"{report.unchanged} unchanged ({report.read} read)"
    )
    print(f"chunks: {report.chunks_written} written, {report.chunks} in the index")
    for skipped in report.skipped:
        print(f"skipped {skipped.source}: {skipped.reason}")
    return 0


def _refuse(error: ConfigError) -> int:
    """One line per bad setting on stderr; the exit code of a configuration error."""
    for setting, message in error.problems:
        print(f"bff: invalid setting {setting}: {message}", file=sys.stderr)
    return 2


def _simulate(args: argparse.Namespace) -> int:
    from bff.demo.model import DEMO_ANSWERS
    from bff.testing.simulator import Simulator

    simulator = Simulator(DEMO_ANSWERS, chunk_delay=args.chunk_delay)
    # A long keep-alive, as real providers have: load tests reuse their connections.
    uvicorn.run(
        simulator.app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=75
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
