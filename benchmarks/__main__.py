"""Run every benchmark and print its table: ``python -m benchmarks [name ...]``."""

from __future__ import annotations

import sys

from benchmarks import (
    context_retrieval,
    edge_limits,
    eval_run,
    pii_recall,
    provider_decode,
    shared_state,
    sse_relay,
    stream_memory,
    structured_parse,
    structured_path,
)

BENCHMARKS = {
    "structured_parse": structured_parse.main,
    "provider_decode": provider_decode.main,
    "sse_relay": sse_relay.main,
    "stream_memory": stream_memory.main,
    "structured_path": structured_path.main,
    "edge_limits": edge_limits.main,
    "shared_state": shared_state.main,
    "eval_run": eval_run.main,
    "context_retrieval": context_retrieval.main,
    "pii_recall": pii_recall.main,
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    for name in names:
        BENCHMARKS[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
