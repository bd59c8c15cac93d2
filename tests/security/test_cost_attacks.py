"""Attacks on what one GraphQL document may cost, replayed over real HTTP and WebSockets.

Each test sends a document that used to work (hundreds of paid task runs in one
request, alias and fragment amplification, documents too big to parse, answers too
big to send) and asserts the refusal, and that no work happened: the simulator saw
no request. Trusted documents are driven the way a locked-down frontend drives them.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from bff.testing.server import ServerThread, SimulatorServer
from tests.api.helpers import operation
from tests.conftest import BffFactory
from tests.security.sockets import Socket, open_socket

GRAPHQL_RESPONSE = "application/graphql-response+json"
TEXT = "Call Bob tomorrow about the invoice."
ONE_TASK = "an operation may run at most 1 task; this one runs {}"
TOKENS = "Syntax Error: Document contains more than 500 tokens. Parsing aborted."
ROOMY = 100_000
"""A token limit big enough for the cost checks behind the parser to see a document."""


def _post(
    server: ServerThread, body: dict[str, Any], accept: str = GRAPHQL_RESPONSE
) -> httpx.Response:
    return httpx.post(f"{server.url}/graphql", json=body, headers={"accept": accept}, timeout=10)


def _code(body: dict[str, Any]) -> str:
    (error,) = body["errors"]
    code: str = error["extensions"]["code"]
    return code


def _aliased_tasks(count: int) -> str:
    fields = " ".join(
        f"a{i}: extractActionPlan(text: $text) {{ __typename }}" for i in range(count)
    )
    return f"mutation Many($text: String!) {{ {fields} }}"


TWO_SPREADS = (
    "mutation Spread($text: String!) { ...Run ...Run }\n"
    "fragment Run on Mutation { extractActionPlan(text: $text) { __typename } }"
)


def _nested(kind: str, root: str, depth: int) -> str:
    """``root`` with fields nested ``depth`` deep in all (cost is counted before
    validation, so the inner fields need not exist)."""
    return f"{kind} {{ {root} {{ " + "x { " * (depth - 2) + "y" + " }" * (depth - 1) + " }"


def _doubling_chain(levels: int) -> str:
    """F0 spreads F1 twice, F1 spreads F2 twice ... and the last holds one alias."""
    chain = [f"fragment F{i} on Health {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    bottom = f"fragment F{levels} on Health {{ s: status }}"
    return "\n".join(["{ health { ...F0 } }", *chain, bottom])


# -- one task per operation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "runs"),
    [(_aliased_tasks(600), 600), (_aliased_tasks(2), 2), (TWO_SPREADS, 2)],
    ids=["600-aliases", "2-aliases", "2-fragment-spreads"],
)
def test_many_tasks_in_one_request_start_no_upstream_call(
    bff: BffFactory, sim: SimulatorServer, query: str, runs: int
) -> None:
    server = bff(max_document_tokens=ROOMY)  # 600 aliases are past the default token limit
    body = {"query": query, "variables": {"text": TEXT}}
    response = _post(server, body)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"message": ONE_TASK.format(runs), "extensions": {"code": "TOO_MANY_TASKS"}}]
    }
    # Clients that only accept application/json get the same refusal, with data null.
    response = _post(server, body, accept="application/json")
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert _code(response.json()) == "TOO_MANY_TASKS"
    assert sim.simulator.requests == []


def test_600_aliased_tasks_stop_at_the_parser_by_default(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    response = _post(bff(), {"query": _aliased_tasks(600), "variables": {"text": TEXT}})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["message"] == TOKENS
    assert sim.simulator.requests == []


def test_one_task_per_operation_still_runs_once(bff: BffFactory, sim: SimulatorServer) -> None:
    response = _post(bff(), {"query": operation("ExtractActionPlan"), "variables": {"text": TEXT}})
    assert response.status_code == 200
    result = response.json()["data"]["extractActionPlan"]
    assert result["__typename"] == "ActionPlanResult", result
    assert result["meta"]["attempts"] == 1
    assert len(sim.simulator.requests) == 1


# -- aliases, tokens, amplification ----------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "message", "code"),
    [
        (None, TOKENS, None),
        (ROOMY, "an operation may use at most 15 aliases; this one uses 1000", "TOO_MANY_ALIASES"),
    ],
    ids=["default-token-limit", "roomy-token-limit"],
)
def test_a_thousand_aliases_get_a_clean_request_error(
    bff: BffFactory, sim: SimulatorServer, tokens: int | None, message: str, code: str | None
) -> None:
    server = bff() if tokens is None else bff(max_document_tokens=tokens)
    query = "{ " + " ".join(f"a{i}: tasks {{ name }}" for i in range(1000)) + " }"
    response = _post(server, {"query": query})
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["message"] == message
    assert error.get("extensions", {}).get("code") == code
    assert "RecursionError" not in response.text
    response = _post(server, {"query": query}, accept="application/json")
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert response.json()["errors"][0]["message"] == message
    assert sim.simulator.requests == []


HUGE = {
    "25k-aliases": "{"
    + " ".join(f"a{i}:tasks{{inputSchema outputSchema}}" for i in range(25_000))
    + "}",
    "1MB-typename": "{" + " __typename" * (1_000_000 // 11) + "}",
}


@pytest.mark.parametrize("query", HUGE.values(), ids=HUGE.keys())
def test_huge_documents_are_refused_fast_and_small_while_healthz_answers(
    bff: BffFactory, sim: SimulatorServer, query: str
) -> None:
    server = bff()
    body = json.dumps({"query": query}).encode()
    assert 900_000 < len(body) < 1_048_576  # under the body limit: the parser meets it
    refusals: list[tuple[int, int, float, str]] = []

    def attack() -> None:
        with httpx.Client(timeout=10) as client:
            for _ in range(5):
                started = time.perf_counter()
                response = client.post(
                    f"{server.url}/graphql",
                    content=body,
                    headers={"content-type": "application/json", "accept": GRAPHQL_RESPONSE},
                )
                elapsed = time.perf_counter() - started
                refusals.append(
                    (response.status_code, len(response.content), elapsed, response.text)
                )

    attacker = threading.Thread(target=attack)
    latencies: list[float] = []
    with httpx.Client(timeout=5) as client:
        attacker.start()
        while attacker.is_alive() or len(latencies) < 3:
            started = time.perf_counter()
            health = client.get(f"{server.url}/healthz")
            latencies.append(time.perf_counter() - started)
            assert health.status_code == 200
        attacker.join()
    assert len(refusals) == 5
    for status, size, elapsed, text in refusals:
        assert status == 400
        assert size < 10_000
        assert elapsed < 1.0
        assert json.loads(text)["errors"][0]["message"] == TOKENS
    assert max(latencies) < 1.0, latencies
    assert sim.simulator.requests == []


def test_fragment_amplification_is_counted_exactly_and_fast(bff: BffFactory) -> None:
    server = bff()
    started = time.perf_counter()
    response = _post(server, {"query": _doubling_chain(20)})
    elapsed = time.perf_counter() - started
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": f"an operation may use at most 15 aliases; this one uses {2**20}",
                "extensions": {"code": "TOO_MANY_ALIASES"},
            }
        ]
    }
    assert elapsed < 1.0  # a hang guard: it takes milliseconds


def test_nesting_over_the_limit_is_refused_over_http(bff: BffFactory, sim: SimulatorServer) -> None:
    server = bff()
    # 20 deep passes the cost check (and meets standard validation: x is no field).
    response = _post(server, {"query": _nested("query", "health", 20)})
    assert response.status_code == 400
    assert "TOO_DEEP" not in response.text
    response = _post(server, {"query": _nested("query", "health", 21)})
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "an operation may nest fields at most 20 deep;"
                " this one nests them 21 deep",
                "extensions": {"code": "TOO_DEEP"},
            }
        ]
    }
    assert sim.simulator.requests == []


# -- response size -------------------------------------------------------------------


def test_answers_over_the_size_limit_are_replaced(bff: BffFactory) -> None:
    server = bff(max_response_bytes=2048)
    response = _post(server, {"query": "{ tasks { inputSchema outputSchema } }"})
    assert response.status_code < 500
    assert len(response.content) <= 2048
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "the response would be over 2048 bytes",
                "extensions": {"code": "RESPONSE_TOO_LARGE"},
            }
        ],
    }
    response = _post(server, {"query": "{ tasks { name } }"})
    assert response.status_code == 200
    names = [task["name"] for task in response.json()["data"]["tasks"]]
    assert "extractActionPlan" in names


# -- the same limits over graphql-transport-ws --------------------------------------------


def _watch(text: str = TEXT) -> dict[str, Any]:
    return {"query": operation("WatchActionPlan"), "variables": {"text": text}}


async def _refused(socket: Socket, op_id: str) -> dict[str, Any]:
    message = await socket.recv()
    assert message["type"] == "error" and message["id"] == op_id, message
    (error,) = message["payload"]
    assert isinstance(error, dict)
    return error


@pytest.mark.anyio
async def test_subscribe_payloads_are_held_to_the_cost_limits(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    server = bff()
    two = (
        "subscription Two($text: String!) {"
        " a: extractActionPlan(text: $text) { __typename }"
        " b: extractActionPlan(text: $text) { __typename } }"
    )
    spreads = TWO_SPREADS.replace("mutation", "subscription").replace(
        "on Mutation", "on Subscription"
    )
    async with open_socket(server.url) as socket:
        await socket.subscribe("two", {"query": two, "variables": {"text": TEXT}})
        error = await _refused(socket, "two")
        assert error["extensions"] == {"code": "TOO_MANY_TASKS"}
        assert error["message"] == ONE_TASK.format(2)
        await socket.subscribe("spreads", {"query": spreads, "variables": {"text": TEXT}})
        assert (await _refused(socket, "spreads"))["extensions"] == {"code": "TOO_MANY_TASKS"}
        deep = _nested("subscription", 'extractActionPlan(text: "x")', 21)
        await socket.subscribe("deep", {"query": deep})
        assert (await _refused(socket, "deep"))["extensions"] == {"code": "TOO_DEEP"}
        assert sim.simulator.requests == []
        # The socket is still usable: a valid subscription runs to its result.
        await socket.subscribe("ok", _watch())
        events = await socket.results("ok")
    assert events[-1]["extractActionPlan"]["__typename"] == "ActionPlanResult"
    assert len(sim.simulator.requests) == 1


@pytest.mark.anyio
async def test_a_subscribe_over_the_token_limit_closes_the_socket(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    async with open_socket(bff().url) as socket:
        await socket.subscribe("big", {"query": "subscription {" + " x" * 600 + " }"})
        with pytest.raises(ConnectionClosed):
            await socket.recv()
        assert socket.ws.close_code == 4400
        assert socket.ws.close_reason == TOKENS
    assert sim.simulator.requests == []


@pytest.mark.anyio
async def test_subscription_answers_over_the_size_limit_are_replaced(bff: BffFactory) -> None:
    async with open_socket(bff(max_response_bytes=2048).url) as socket:
        await socket.subscribe("q", {"query": "{ tasks { inputSchema outputSchema } }"})
        message = await socket.recv()
        assert message["type"] == "next"
        assert message["payload"]["data"] is None
        assert _code(message["payload"]) == "RESPONSE_TOO_LARGE"
        assert (await socket.recv()) == {"id": "q", "type": "complete"}


# -- trusted documents ---------------------------------------------------------------


def _operations(server: ServerThread) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/operations.json", timeout=10)
    assert response.status_code == 200
    operations: dict[str, Any] = response.json()
    return operations


def test_operations_json_gives_each_operation_its_id(bff: BffFactory) -> None:
    operations = _operations(bff())
    assert {"ExtractActionPlan", "WatchActionPlan", "Tasks"} <= set(operations)
    for name, entry in operations.items():
        assert entry["document"] == operation(name)
        digest = hashlib.sha256(entry["document"].encode()).hexdigest()
        assert entry["id"] == f"sha256:{digest}"


@pytest.mark.parametrize("mode", ["off", "only"])
def test_a_mutation_runs_by_its_id_alone(bff: BffFactory, sim: SimulatorServer, mode: str) -> None:
    server = bff(trusted_documents=mode)
    document_id = _operations(server)["ExtractActionPlan"]["id"]
    digest = document_id.removeprefix("sha256:")
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    for body in (
        {"documentId": document_id, "variables": {"text": TEXT}},
        {"extensions": persisted, "variables": {"text": TEXT}},
    ):
        response = _post(server, body)
        assert response.status_code == 200, response.text
        result = response.json()["data"]["extractActionPlan"]
        assert result["__typename"] == "ActionPlanResult", result
    assert len(sim.simulator.requests) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["off", "only"])
async def test_a_subscription_runs_by_its_id_alone(
    bff: BffFactory, sim: SimulatorServer, mode: str
) -> None:
    server = bff(trusted_documents=mode)
    document_id = _operations(server)["WatchActionPlan"]["id"]
    digest = document_id.removeprefix("sha256:")
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    async with open_socket(server.url) as socket:
        await socket.subscribe("1", {"documentId": document_id, "variables": {"text": TEXT}})
        by_id = await socket.results("1")
        await socket.subscribe("2", {"extensions": persisted, "variables": {"text": TEXT}})
        by_hash = await socket.results("2")
    for events in (by_id, by_hash):
        assert events[0]["extractActionPlan"]["__typename"] == "RunStarted"
        assert events[-1]["extractActionPlan"]["__typename"] == "ActionPlanResult"
    assert len(sim.simulator.requests) == 2


@pytest.mark.anyio
async def test_trusted_only_refuses_ad_hoc_documents_before_any_work(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    server = bff(trusted_documents="only")
    ad_hoc = 'mutation { extractActionPlan(text: "x") { __typename } }'
    required = {
        "errors": [
            {
                "message": "this server runs trusted documents only: send a documentId",
                "extensions": {"code": "TRUSTED_DOCUMENT_REQUIRED"},
            }
        ]
    }
    for accept in (GRAPHQL_RESPONSE, "application/json"):
        response = _post(server, {"query": ad_hoc}, accept=accept)
        assert response.status_code == 400
        assert response.json() == required
    # A trusted document changed by one character is an ad-hoc document too.
    edited = operation("ExtractActionPlan").replace("__typename", "__typename ", 1)
    response = _post(server, {"query": edited, "variables": {"text": TEXT}})
    assert (response.status_code, _code(response.json())) == (400, "TRUSTED_DOCUMENT_REQUIRED")
    async with open_socket(server.url) as socket:
        await socket.subscribe("1", {"query": ad_hoc.replace("mutation", "subscription")})
        assert (await _refused(socket, "1"))["extensions"] == {"code": "TRUSTED_DOCUMENT_REQUIRED"}
    assert sim.simulator.requests == []
    # The exact text of a trusted document is that document.
    response = _post(server, {"query": operation("ExtractActionPlan"), "variables": {"text": TEXT}})
    assert response.status_code == 200
    assert response.json()["data"]["extractActionPlan"]["__typename"] == "ActionPlanResult"
    assert len(sim.simulator.requests) == 1


@pytest.mark.parametrize("mode", ["off", "only"])
def test_bad_document_ids_are_refused_before_any_work(
    bff: BffFactory, sim: SimulatorServer, mode: str
) -> None:
    server = bff(trusted_documents=mode)
    operations = _operations(server)
    extract = operations["ExtractActionPlan"]["id"]
    unknown = "sha256:" + hashlib.sha256(b"mutation { nothing }").hexdigest()
    variables = {"text": TEXT}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"documentId": unknown, "variables": variables}, "PERSISTED_QUERY_NOT_FOUND"),
        (
            {"extensions": {"persistedQuery": {"sha256Hash": unknown.removeprefix("sha256:")}}},
            "PERSISTED_QUERY_NOT_FOUND",
        ),
        (
            {"documentId": extract, "query": operation("Tasks"), "variables": variables},
            "DOCUMENT_ID_MISMATCH",
        ),
        ({"documentId": "sha256:1234", "variables": variables}, "BAD_DOCUMENT_ID"),
        ({"documentId": "md5:" + "0" * 32, "variables": variables}, "BAD_DOCUMENT_ID"),
        ({"documentId": extract + "00", "variables": variables}, "BAD_DOCUMENT_ID"),
        ({"documentId": 1234, "variables": variables}, "BAD_DOCUMENT_ID"),
        ({"extensions": {"persistedQuery": {"version": 1}}}, "BAD_DOCUMENT_ID"),
    ]
    for body, code in cases:
        response = _post(server, body)
        assert response.status_code == 400, body
        assert _code(response.json()) == code, body
    assert sim.simulator.requests == []
