"""GraphQL over HTTP: the spec's status codes and media types; bad input is never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bff.testing.server import ServerThread, SimulatorServer
from tests.api.helpers import operation
from tests.conftest import BffFactory

GRAPHQL_RESPONSE = "application/graphql-response+json"
ACCEPT = {"accept": GRAPHQL_RESPONSE}


@pytest.fixture
def server(bff: BffFactory) -> ServerThread:
    return bff()


def _post(server: ServerThread, body: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/graphql", json=body, timeout=10, **kwargs)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"query": "{ health { status "}, "Syntax Error"),
        ({"query": "{ nope }"}, "Cannot query field 'nope'"),
        ({"query": 'mutation { unknownTask(text: "x") { __typename } }'}, "unknownTask"),
        ({"query": "mutation { extractActionPlan(text: 5) { __typename } }"}, "String cannot"),
        (
            {"query": "mutation { extractActionPlan { __typename } }"},
            "extractActionPlan(text:)' of type 'String!' is required",
        ),
        (
            {
                "query": "mutation($t: String!) { extractActionPlan(text: $t) { __typename } }",
                "variables": {"t": 42},
            },
            "Variable '$t' has invalid value: String cannot represent a non string value: 42",
        ),
        (
            {"query": "mutation($t: String!) { extractActionPlan(text: $t) { __typename } }"},
            "Expected a value of non-null type 'String!' to be provided",
        ),
    ],
)
def test_request_errors_are_400_without_data(
    server: ServerThread, body: dict[str, Any], fragment: str
) -> None:
    response = _post(server, body, headers=ACCEPT)
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    payload = response.json()
    assert "data" not in payload
    assert fragment in payload["errors"][0]["message"]


def test_application_json_clients_keep_200_with_data_null(server: ServerThread) -> None:
    response = _post(server, {"query": "{ nope }"}, headers={"accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["data"] is None


def test_success_uses_the_accepted_media_type(server: ServerThread) -> None:
    response = _post(server, {"query": operation("Health")}, headers=ACCEPT)
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json()["data"]["health"]["status"] == "ok"


@pytest.mark.parametrize(
    ("kwargs", "status", "fragment"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON"),
        (
            {"content": b"query { health }", "headers": {"content-type": "text/plain"}},
            415,
            "content type",
        ),
        ({"json": {"variables": {}}}, 400, "No GraphQL query"),
        ({"json": {"query": 42}}, 400, "must be a string"),
        ({"json": {"query": "{ health { status } }", "variables": [1]}}, 400, "variables"),
        ({"json": ["not", "an", "operation"]}, 400, ""),
    ],
)
def test_malformed_bodies(
    server: ServerThread, kwargs: dict[str, Any], status: int, fragment: str
) -> None:
    headers = {**ACCEPT, **kwargs.pop("headers", {})}
    response = httpx.post(f"{server.url}/graphql", headers=headers, timeout=10, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert fragment in response.json()["errors"][0]["message"]


def test_oversized_bodies_get_413(bff: BffFactory) -> None:
    server = bff(max_body_bytes=4096)
    query = "{ health { status } } # " + "x" * 5000
    response = _post(server, {"query": query}, headers=ACCEPT)
    assert response.status_code == 413
    assert "4096-byte limit" in response.json()["errors"][0]["message"]

    def chunks():  # no content-length: the limit applies to what arrives
        for _ in range(10):
            yield b"x" * 1000

    response = httpx.post(
        f"{server.url}/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_get_is_for_queries_only(server: ServerThread) -> None:
    query = 'mutation { extractActionPlan(text: "Call Bob") { __typename } }'
    response = httpx.get(f"{server.url}/graphql", params={"query": query}, headers=ACCEPT)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"errors": [{"message": "mutations need POST, not GET"}]}


def test_other_methods_are_refused(server: ServerThread) -> None:
    response = httpx.put(f"{server.url}/graphql", json={"query": "{ health { status } }"})
    assert response.status_code == 405


def test_graphiql_in_a_browser(server: ServerThread) -> None:
    response = httpx.get(f"{server.url}/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


def test_client_mistakes_are_not_logged_as_server_errors(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR"):
        assert _post(server, {"query": "{ nope }"}, headers=ACCEPT).status_code == 400
        body = {"query": "query($n: Int!) { health { status } }", "variables": {"n": "x"}}
        assert _post(server, body, headers=ACCEPT).status_code == 400
    assert [r for r in caplog.records if r.name.startswith("strawberry")] == []


def test_a_subscription_over_plain_http_is_refused_before_any_run(
    server: ServerThread, sim: SimulatorServer
) -> None:
    response = _post(server, {"query": operation("WatchActionPlan"), "variables": {"text": "x"}},
                     headers=ACCEPT)  # fmt: skip
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "subscriptions need a WebSocket (graphql-transport-ws)",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
    assert sim.simulator.requests == []
