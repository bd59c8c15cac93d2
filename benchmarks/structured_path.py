"""Structured output end to end: the BFF's ``extractActionPlan`` mutation versus the same task
done with instructor, each a server between this client and one provider.

The simulator (``bff simulate``, answering at once), the BFF (``bff serve``, no limits,
its GraphQL ``ExtractActionPlan`` operation from ``graphql/operations/``) and the instructor
peer (``benchmarks/peers/instructor_app.py``, from the peers' virtualenv: a plain ``create``,
and a streamed ``create_partial`` read to its last partial) run as their own processes on
loopback, both servers routed to the simulator (the BFF streams its call to it, as
``create_partial`` does; ``create`` does not). Every answer is scripted to the plan the
BFF gets unscripted: unscripted, instructor's partial call would get an empty plan (it
names its model ``PartialActionPlan``, which the demo model has no heuristic for); the
sizes are printed. At 1, 10 and 50 requests in flight the three paths take turns, in a
rotating order, for ``ROUND_S`` seconds each over ``ROUNDS`` rounds; per round it takes
requests a second, the median and 99th percentile latency and the server's CPU per request
(from /proc), and prints each figure's range over the rounds and the BFF's ratio to each
peer, round by round.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from typing import Any

import httpx

from benchmarks._clients import clients
from benchmarks._ranges import span
from benchmarks._servers import (
    PEERS_MISSING,
    bench_env,
    bff,
    cpu_s,
    instructor_app,
    peers_python,
    quiet,
    simulator,
)
from benchmarks.edge_limits import OPERATIONS, TEXT
from bff.api.operations import load_operations
from bff.demo.action_plan import ActionPlan, UserAction

CONCURRENCY = (1, 10, 50)
ROUNDS = 3
ROUND_S = 3.0
PATHS = {"bff": "llm-bff", "plain": "instructor", "partial": "instr.partial"}
PEERS = ("plain", "partial")

Call = Callable[[httpx.AsyncClient], Awaitable[ActionPlan]]


@dataclass(frozen=True)
class Target:
    call: Call
    pid: int  # the server's process, whose CPU the path costs


@dataclass(frozen=True)
class Round:
    rate: float  # requests a second
    p50_s: float
    p99_s: float
    cpu_s: float  # the server's, per request


# Each figure, and whether a higher one is better (its ratio is then the peer's over the
# BFF's, so that below 1 the BFF is always ahead).
METRICS: dict[str, tuple[Callable[[Round], float], bool]] = {
    "req/s": (lambda r: r.rate, True),
    "p50 ms": (lambda r: r.p50_s * 1e3, False),
    "p99 ms": (lambda r: r.p99_s * 1e3, False),
    "CPU ms/req": (lambda r: r.cpu_s * 1e3, False),
}


def _bff_call(url: str) -> Call:
    document = load_operations(OPERATIONS)["ExtractActionPlan"].document
    body = {"query": document, "variables": {"text": TEXT}}

    async def call(client: httpx.AsyncClient) -> ActionPlan:
        response = await client.post(f"{url}/graphql", json=body)
        payload = response.json()["data"]["extractActionPlan"]
        if payload["__typename"] != "ActionPlanResult":
            raise RuntimeError(f"a mutation failed: {payload}")
        return ActionPlan(actions=[_action(a) for a in payload["plan"]["actions"]])

    return call


def _action(fields: dict[str, Any]) -> UserAction:
    return UserAction(
        action_type=fields["actionType"], priority=fields["priority"], summary=fields["summary"]
    )


def _peer_call(url: str) -> Call:
    async def call(client: httpx.AsyncClient) -> ActionPlan:
        response = await client.post(url, json={"text": TEXT})
        response.raise_for_status()
        return ActionPlan.model_validate_json(response.content)

    return call


async def _round(path: Target, pool: list[httpx.AsyncClient], plan: ActionPlan) -> Round:
    latencies: list[float] = []
    before = cpu_s(path.pid)
    started = time.perf_counter()
    deadline = started + ROUND_S

    async def worker(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            if await path.call(client) != plan:
                raise RuntimeError("an answer was not the scripted plan")
            latencies.append(time.perf_counter() - sent)

    await asyncio.gather(*(worker(client) for client in pool))
    elapsed = time.perf_counter() - started
    await quiet(path.pid)
    return Round(
        len(latencies) / elapsed,
        statistics.median(latencies),
        statistics.quantiles(latencies, n=100)[98],
        (cpu_s(path.pid) - before) / len(latencies),
    )


async def _measure(
    paths: dict[str, Target], concurrency: int, plan: ActionPlan
) -> dict[str, list[Round]]:
    async with AsyncExitStack() as stack:
        pools = {name: await clients(stack, concurrency) for name in paths}
        for name, path in paths.items():  # warm the connections and the servers
            await asyncio.gather(*(path.call(client) for client in pools[name]))
            await quiet(path.pid)
        rounds: dict[str, list[Round]] = {name: [] for name in paths}
        order = list(paths)
        for _ in range(ROUNDS):
            for name in order:
                rounds[name].append(await _round(paths[name], pools[name], plan))
            order.append(order.pop(0))
    return rounds


async def _answers(paths: dict[str, Target]) -> dict[str, ActionPlan]:
    async with httpx.AsyncClient(timeout=60) as client:
        return {name: await path.call(client) for name, path in paths.items()}


def _script(sim: str, paths: dict[str, Target]) -> ActionPlan:
    """Print the size of each path's unscripted answer, script the simulator to give every
    request the BFF's, and return that plan."""
    answers = asyncio.run(_answers(paths))
    sizes = ", ".join(
        f"{PATHS[name]} {len(plan.model_dump_json())} B ({len(plan.actions)} actions)"
        for name, plan in answers.items()
    )
    plan = answers["bff"]
    step = {"content": plan.model_dump_json(), "repeat": 1_000_000}
    httpx.post(f"{sim}/_sim/script", json={"steps": [step]}).raise_for_status()
    print(f"answers unscripted: {sizes}; every answer scripted to the llm-bff one")
    return plan


def _peer(rounds: dict[str, list[Round]], name: str, metric: str) -> tuple[str, str]:
    """A peer's range for ``metric``, and the range of the BFF's ratio to it."""
    if name not in rounds:
        return "n/a", "n/a"
    value, higher_better = METRICS[metric]
    own, peer = [value(r) for r in rounds["bff"]], [value(r) for r in rounds[name]]
    ratios = (p / o if higher_better else o / p for o, p in zip(own, peer, strict=True))
    return span(peer), span(ratios)


def _direct_call(sim: str, stream: bool) -> Call:
    """The simulator's answer read directly, streamed to its end or whole."""
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": TEXT}]}
    body["stream"] = stream

    async def call(client: httpx.AsyncClient) -> ActionPlan:
        url, key = f"{sim}/v1/chat/completions", {"authorization": "Bearer bench"}
        async with client.stream("POST", url, json=body, headers=key) as response:
            await response.aread()
            response.raise_for_status()
        return ActionPlan(actions=[])

    return call


def _upstream_floor(sim: str, pid: int) -> None:
    """What streaming costs the upstream itself, with no relay: the simulator's answer at 1
    in flight, streamed and read to its end versus whole, rounds alternating."""
    paths = {s: Target(_direct_call(sim, s), pid) for s in (True, False)}
    rounds = asyncio.run(_measure(paths, 1, ActionPlan(actions=[])))
    streamed, whole = ([r.p50_s * 1e3 for r in rounds[s]] for s in (True, False))
    gaps = (a - b for a, b in zip(streamed, whole, strict=True))
    print(
        f"upstream floor, 1 in flight: the simulator's answer streamed (read to its end) "
        f"{span(streamed)} ms p50, whole {span(whole)} ms: streaming alone adds "
        f"{span(gaps)} ms before any server in between"
    )


def _print_table(results: dict[int, dict[str, list[Round]]]) -> None:
    print(
        f"{'in flight':>9} {'':>10} {'llm-bff':>13} {'instructor':>13} {'instr.partial':>13} "
        f"{'ratio instr.':>13} {'ratio partial':>13}"
    )
    for concurrency, rounds in results.items():
        for metric, (value, _) in METRICS.items():
            (plain, plain_ratio), (partial, partial_ratio) = (
                _peer(rounds, name, metric) for name in PEERS
            )
            print(
                f"{concurrency:>9} {metric:>10} {span(map(value, rounds['bff'])):>13} "
                f"{plain:>13} {partial:>13} {plain_ratio:>13} {partial_ratio:>13}"
            )


def main() -> None:
    env = bench_env()
    python = peers_python()
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        sim, config = simulator(stack, env, folder)
        server = bff(stack, env, config)
        paths = {"bff": Target(_bff_call(server.url), server.pid)}
        if python is not None:
            peer = instructor_app(stack, python, env, f"{sim.url}/v1")
            paths["plain"] = Target(_peer_call(f"{peer.url}/extract"), peer.pid)
            paths["partial"] = Target(_peer_call(f"{peer.url}/extract-partial"), peer.pid)
        print(
            "\nstructured_path (`.venv/bin/python -m benchmarks structured_path`): "
            "extractActionPlan through llm-bff (GraphQL) versus instructor (create; partial: "
            "create_partial), each a server routed to one simulator answering at once; "
            f"ranges min..max over {ROUNDS} interleaved rounds of {ROUND_S:g} s per path; "
            "ratio = the BFF's figure over the peer's, round by round (req/s: the peer's "
            "over the BFF's), so below 1 the BFF is ahead"
        )
        plan = _script(sim.url, paths)
        results = {c: asyncio.run(_measure(paths, c, plan)) for c in CONCURRENCY}
        _print_table(results)
        _upstream_floor(sim.url, sim.pid)
    if python is None:
        print(f"instructor: {PEERS_MISSING}")


if __name__ == "__main__":
    main()
