"""What authentication and the per-client limits cost: ``extractActionPlan`` mutations per
second with them on versus off, in the same run.

Two ``bff serve`` processes routed to one simulator (``bff simulate``, answering at
once): "off" serves anonymous callers with no request rate and no concurrency limit;
"on" requires an API key and checks a request rate and a concurrency limit on every
request (set high enough that nothing is refused, so the checks run but never end a
request). The GraphQL cost checks run in both (they cannot be turned off); their
own cost per request is timed in-process and printed beside them. Rounds alternate
between the two servers so a slow spell on the machine hits both alike.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import timeit
from contextlib import ExitStack
from pathlib import Path

import httpx

from benchmarks._servers import bench_env, cpu_s, running, simulator
from bff.api.cost import OperationLimits, operation_costs
from bff.api.operations import load_operations
from bff.testing.server import free_port

CONCURRENCY = 10
ROUNDS = 6
ROUND_S = 3.0
KEY = "bench-key-0123456789abcdef"
OPERATIONS = Path(__file__).resolve().parents[1] / "graphql" / "operations"
TEXT = "Please call Bob today about the outage. Review the Q3 budget next week. Buy milk."


async def _round(url: str) -> tuple[float, int]:
    """Mutations per second over ``ROUND_S`` seconds at ``CONCURRENCY`` in flight, and
    how many were made."""
    document = load_operations(OPERATIONS)["ExtractActionPlan"].document
    body = {"query": document, "variables": {"text": TEXT}}
    headers = {"authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    done = 0
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await client.post(url, json=body, headers=headers)  # warm the connections
        deadline = time.perf_counter() + ROUND_S
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                response = await client.post(url, json=body, headers=headers)
                payload = response.json()["data"]["extractActionPlan"]
                if payload["__typename"] != "ActionPlanResult":
                    raise RuntimeError(f"a mutation failed: {payload}")
                done += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return done / (time.perf_counter() - started), done


def _cost_check_us() -> float:
    document = load_operations(OPERATIONS)["ExtractActionPlan"].document
    from graphql import parse

    parsed = parse(document)
    limits = OperationLimits()
    runs = 20_000
    seconds = timeit.timeit(
        lambda: [limits.check(c) for c in operation_costs(parsed, ["extractActionPlan"])],
        number=runs,
    )
    return seconds / runs * 1e6


def _parse_validate_us() -> tuple[float, float]:
    """What a document seen before no longer costs: one parse and one standard
    validation of the mutation's document, in microseconds, in-process."""
    from graphql.validation import specified_rules
    from strawberry.schema.schema import validate_document

    from bff.api.schema import build_schema
    from bff.demo.tasks import reference_tasks
    from graphql import parse

    document = load_operations(OPERATIONS)["ExtractActionPlan"].document
    schema = build_schema(reference_tasks())._schema
    parsed, rules, runs = parse(document), tuple(specified_rules), 300
    parse_s = timeit.timeit(lambda: parse(document), number=runs)
    validate_s = timeit.timeit(lambda: validate_document(schema, parsed, rules), number=runs)
    return parse_s / runs * 1e6, validate_s / runs * 1e6


def main() -> None:
    env = bench_env()
    env["BFF_LOG_LEVEL"] = "warning"
    servers = {
        "off": {"BFF_RATE_LIMIT": "none", "BFF_MAX_CONCURRENT_RUNS": "100000"},
        "on": {
            "BFF_API_KEYS": KEY,
            "BFF_RATE_LIMIT": "100000000/minute",
            "BFF_MAX_CONCURRENT_RUNS": "100000",
        },
    }
    urls: dict[str, str] = {}
    pids: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        _, config = simulator(stack, env, folder)
        python = [sys.executable, "-m", "bff.cli"]
        for name, extra in servers.items():
            port = free_port()
            argv = [*python, "serve", "--port", str(port), "--config", str(config)]
            process = stack.enter_context(
                running(argv, f"http://127.0.0.1:{port}/healthz", env | extra)
            )
            urls[name], pids[name] = f"http://127.0.0.1:{port}/graphql", process.pid
        rates: dict[str, list[float]] = {name: [] for name in servers}
        cpu_ms: dict[str, list[float]] = {name: [] for name in servers}
        order = list(servers)
        for _ in range(ROUNDS):
            for name in order:
                before = cpu_s(pids[name])
                rate, count = asyncio.run(_round(urls[name]))
                rates[name].append(rate)
                cpu_ms[name].append((cpu_s(pids[name]) - before) / count * 1000)
            order.reverse()
    ratios = [on / off for on, off in zip(rates["on"], rates["off"], strict=True)]
    print(
        f"\nedge_limits: extractActionPlan mutations/s, {CONCURRENCY} in flight, "
        f"{ROUNDS} rounds of {ROUND_S:g} s per server, alternating"
    )
    print(f"{'':>10} {'req/s median':>13} {'min':>7} {'max':>7} {'BFF CPU ms/req':>15}")
    for name in servers:
        values = rates[name]
        print(
            f"{'limits ' + name:>10} {statistics.median(values):>13.1f} "
            f"{min(values):>7.1f} {max(values):>7.1f} {statistics.median(cpu_ms[name]):>15.2f}"
        )
    cost = 1 - statistics.median(ratios)
    cpu = statistics.median(cpu_ms["on"]) / statistics.median(cpu_ms["off"]) - 1
    print(
        f"cost of authentication and limits: {cost * 100:.1f}% of throughput "
        f"(rounds {min(ratios):.3f}-{max(ratios):.3f} of 'off'), {cpu * 100:+.1f}% CPU per "
        "request; target under 5%"
    )
    print(
        f"GraphQL cost checks (in both): {_cost_check_us():.1f} us per request, in-process; "
        f"one mutation takes {1e6 / statistics.median(rates['off']) * CONCURRENCY:.0f} us "
        f"of wall time at {CONCURRENCY} in flight"
    )
    parse_us, validate_us = _parse_validate_us()
    print(
        f"a document seen before skips its parse ({parse_us:.0f} us) and its standard "
        f"validation ({validate_us:.0f} us), in-process"
    )


if __name__ == "__main__":
    main()
