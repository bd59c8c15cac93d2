"""Authentication at the edge, over real HTTP and WebSockets against ``bff`` servers.

API keys (plain, ``sha256:`` digests, ``[clients.NAME]`` entries), JWT bearer tokens
(an HS256 secret, or a JWKS document on a loopback key server), anonymous callers on
purpose, and the rule that ties them to money: budgets belong to the authenticated
client, so neither invented keys nor a second route in can spend someone else's. A
refusal is also proven to have done nothing: the simulator saw no request.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bff.demo.tasks import EXTRACT_ACTION_PLAN, TextInput
from bff.providers._types import ChatRequest
from bff.testing.server import ServerThread, SimulatorServer
from bff.tokens import estimate_prompt_tokens
from tests.api.helpers import operation
from tests.conftest import BffFactory

TEXT = "Please call Bob today. Review the Q3 budget next week."
CHAT = {"messages": [{"role": "user", "content": "Tell me about lighthouses."}]}
HEALTH = "{ health { status version model } }"

KEY_A = "key-a-0123456789abcdef"
KEY_B = "key-b-0123456789abcdef"
HASHED_KEY = "hashed-key-0123456789abcdef"  # configured as sha256:<hex> only
ACME_KEY = "acme-key-0123456789abcdef"  # the [clients.acme] entry's key

SECRET = "jwt-secret-for-tests-only-0123456789abcdef"  # >= 32 bytes for HS256
ISSUER = "https://login.example.test/"
AUDIENCE = "llm-bff"
RSA_A = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_B = rsa.generate_private_key(public_exponent=65537, key_size=2048)

UNAUTHENTICATED = "UNAUTHENTICATED"
WWW_AUTHENTICATE = 'Bearer realm="bff"'


def _sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _one_plan_of_budget() -> int:
    """A daily token budget that covers one extractActionPlan on TEXT and not a second:
    the first call's worst case (which it reserves) and 50 tokens more."""
    task = EXTRACT_ACTION_PLAN
    request = ChatRequest(
        "gpt-4o", task.messages(TextInput(text=TEXT)), task.output, task.max_tokens
    )
    return estimate_prompt_tokens(request) + task.max_tokens + 50


def _bearer(credential: str) -> dict[str, str]:
    return {"authorization": f"Bearer {credential}"}


def _invented(number: int) -> tuple[str, dict[str, str]]:
    """A credential nobody configured, presented one way or another."""
    credential = f"made-up-{number}-{secrets.token_urlsafe(18)}"
    shapes = [
        _bearer(credential),
        {"x-api-key": credential},
        _bearer(f"{credential}.{credential}.{credential}"),  # looks like a JWT
        {"x-api-key": credential[:16]},
    ]
    headers = shapes[number % len(shapes)]
    presented = headers.get("x-api-key") or headers["authorization"].removeprefix("Bearer ")
    return presented, headers


_CLIENTS: list[httpx.Client] = []


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    for client in _CLIENTS:
        client.close()
    _CLIENTS.clear()


def _client() -> httpx.Client:
    """One pooled client for the module: many short requests, no new client each."""
    if not _CLIENTS:
        _CLIENTS.append(httpx.Client(timeout=30))
    return _CLIENTS[0]


def _graphql(
    url: str, query: str, headers: Mapping[str, str] | None = None, **variables: Any
) -> httpx.Response:
    return _client().post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers=dict(headers or {}),
    )


def _plan(url: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The extractActionPlan payload for TEXT (an ActionPlanResult or a TaskError)."""
    response = _graphql(url, operation("ExtractActionPlan"), headers, text=TEXT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["extractActionPlan"]
    return payload


def _served(payload: dict[str, Any]) -> bool:
    return bool(payload["__typename"] == "ActionPlanResult")


def _over_budget(payload: dict[str, Any]) -> bool:
    return bool(payload["__typename"] == "TaskError" and payload["code"] == "BUDGET_EXCEEDED")


def _assert_refused(response: httpx.Response, presented: str | None = None) -> str:
    """A 401 in the GraphQL shape (on /graphql) or the route's shape (elsewhere), with
    the challenge header and without the credential; returns the message."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == WWW_AUTHENTICATE
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if response.request.url.path == "/graphql":
        assert list(body) == ["errors"], body
        (error,) = body["errors"]
        assert error["extensions"] == {"code": UNAUTHENTICATED}
        message: str = error["message"]
    else:
        assert list(body) == ["error"] and body["error"]["code"] == UNAUTHENTICATED, body
        message = body["error"]["message"]
    if presented:
        assert presented not in response.text
        assert presented not in str(response.headers)
    return message


# -- no credentials configured ----------------------------------------------------


def test_without_configured_credentials_every_caller_is_the_one_anonymous_client(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    """Invented keys name nobody: rotating them cannot dodge the anonymous budget, and
    nobody is refused for presenting them."""
    url = bff(client_daily_tokens=_one_plan_of_budget()).url
    assert _served(_plan(url))
    for number in range(20):
        _, headers = _invented(number)
        payload = _plan(url, headers)
        assert _over_budget(payload), (number, headers, payload)
        assert payload["meta"]["attempts"] == 0
    assert len(sim.simulator.requests) == 1


# -- API keys ---------------------------------------------------------------------


def test_with_keys_configured_missing_wrong_and_invented_keys_are_refused_before_any_work(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(api_keys=[KEY_A], fallback_models=["demo/heuristic"], rate_limit="none").url
    plan = {"query": operation("ExtractActionPlan"), "variables": {"text": TEXT}}
    fault = {"route": "demo/heuristic", "rate": 1.0, "kinds": ["malformed"]}

    def attempts(headers: dict[str, str]) -> list[httpx.Response]:
        client = _client()
        return [
            client.post(f"{url}/graphql", json=plan, headers=headers),
            client.post(f"{url}/chat/stream", json=CHAT, headers=headers),
            client.get(f"{url}/graphql", params={"query": HEALTH}, headers=headers),
            client.put(f"{url}/demo/faults", json=fault, headers=headers),
        ]

    messages = {_assert_refused(r) for r in attempts({})}
    assert messages == {
        "credentials are required: send Authorization: Bearer <key or token>, or X-API-Key: <key>"
    }
    wrong = KEY_A[:-1] + "X"
    for headers in (_bearer(wrong), {"x-api-key": wrong}):
        for response in attempts(headers):
            assert _assert_refused(response, wrong) == "the API key is not valid"
    for number in range(20):
        presented, headers = _invented(number)
        for response in attempts(headers):
            _assert_refused(response, presented)
    assert sim.simulator.requests == []
    # The fault switch was never thrown, and what needs no credentials still answers.
    routes = _client().get(f"{url}/demo/faults").json()["routes"]
    assert [r["rate"] for r in routes] == [0.0]
    for path in ("/", "/healthz", "/operations.json"):
        assert _client().get(f"{url}{path}").status_code == 200, path
    page = _client().get(f"{url}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_a_query_over_get_needs_credentials_however_the_parameter_is_spelled(
    bff: BffFactory,
) -> None:
    """The server decodes parameter names, so the guard must see the same ``query``
    the GraphQL view executes; otherwise a stranger reads ``health`` (routes, version)."""
    url = bff(api_keys=[KEY_A], rate_limit="none").url
    spellings = ["query={q}", "x=1&query={q}", "%71uery={q}", "que%72y={q}"]
    answers: dict[str, tuple[int, str]] = {}
    for spelling in spellings:
        target = f"{url}/graphql?" + spelling.format(q=quote(HEALTH))
        allowed = _client().get(target, headers={"x-api-key": KEY_A})
        assert allowed.status_code == 200, (spelling, allowed.text)
        assert allowed.json()["data"]["health"]["model"] == "sim/gpt-4o"
        refused = _client().get(target)
        answers[spelling] = (refused.status_code, refused.text)
    assert {s: a for s, a in answers.items() if a[0] != 401} == {}
    for spelling in spellings:
        _assert_refused(_client().get(f"{url}/graphql?" + spelling.format(q=quote(HEALTH))))


def test_valid_keys_work_through_either_header_and_as_sha256_entries(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(api_keys=[KEY_A, f"sha256:{_sha256(HASHED_KEY)}"]).url
    for headers in (
        _bearer(KEY_A),
        {"x-api-key": KEY_A},
        {"authorization": f"bearer  {KEY_A}"},  # the scheme in any case, spaces trimmed
        _bearer(HASHED_KEY),
        {"x-api-key": HASHED_KEY},
    ):
        assert _served(_plan(url, headers)), headers
    chat = _client().post(f"{url}/chat/stream", json=CHAT, headers={"x-api-key": KEY_A})
    assert chat.status_code == 200 and "event: done" in chat.text
    assert len(sim.simulator.requests) == 6
    # The digest itself is not a key: only the plaintext opens.
    presented = f"sha256:{_sha256(HASHED_KEY)}"
    _assert_refused(_graphql(url, HEALTH, _bearer(presented)), presented)
    _assert_refused(_graphql(url, HEALTH, _bearer(_sha256(HASHED_KEY))), _sha256(HASHED_KEY))
    assert len(sim.simulator.requests) == 6


def test_a_clients_entry_authenticates_and_has_its_own_daily_budget(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    clients = {"acme": {"key_sha256": _sha256(ACME_KEY), "daily_tokens": _one_plan_of_budget()}}
    url = bff(api_keys=[KEY_B], clients=clients).url
    assert _served(_plan(url, {"x-api-key": ACME_KEY}))
    refused = _plan(url, _bearer(ACME_KEY))
    assert _over_budget(refused) and "client's daily token budget" in refused["message"]
    assert len(sim.simulator.requests) == 1
    # KEY_B has no daily limit of its own (and there is no global one).
    assert _served(_plan(url, _bearer(KEY_B)))
    assert _served(_plan(url, _bearer(KEY_B)))
    assert len(sim.simulator.requests) == 3
    _assert_refused(_graphql(url, HEALTH, _bearer(_sha256(ACME_KEY))), _sha256(ACME_KEY))


def test_anonymous_callers_allowed_on_purpose_share_one_budget_but_bad_keys_are_refused(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(
        api_keys=[KEY_A, KEY_B], allow_anonymous=True, client_daily_tokens=_one_plan_of_budget()
    ).url
    assert _served(_plan(url))
    assert _over_budget(_plan(url))  # the anonymous client's budget is spent
    assert len(sim.simulator.requests) == 1
    wrong = "not-a-configured-key-0123456789"
    for headers in (_bearer(wrong), {"x-api-key": wrong}):
        _assert_refused(_graphql(url, operation("ExtractActionPlan"), headers, text=TEXT), wrong)
        response = _client().post(f"{url}/chat/stream", json=CHAT, headers=headers)
        _assert_refused(response, wrong)
    assert len(sim.simulator.requests) == 1
    assert _served(_plan(url, _bearer(KEY_A)))  # a key's budget is its own
    assert len(sim.simulator.requests) == 2


def test_budgets_are_keyed_by_the_authenticated_client_only(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    """However a client presents its key, and whatever else the request says, it spends
    from one budget; another key is untouched."""
    url = bff(
        api_keys=[KEY_A, KEY_B, f"sha256:{_sha256(HASHED_KEY)}"],
        client_daily_tokens=_one_plan_of_budget(),
    ).url
    assert _served(_plan(url, _bearer(KEY_A)))
    for headers in (
        {"x-api-key": KEY_A},
        {**_bearer(KEY_A), "x-forwarded-for": "203.0.113.9", "user-agent": "other/1.0"},
        {**_bearer(KEY_A), "x-api-key": KEY_B},  # Authorization wins; B is not charged
        {"x-api-key": KEY_A, "x-client-id": "someone-else"},
    ):
        assert _over_budget(_plan(url, headers)), headers
    assert len(sim.simulator.requests) == 1
    assert _served(_plan(url, {"x-api-key": KEY_B}))
    assert _served(_plan(url, {"x-api-key": HASHED_KEY}))
    assert len(sim.simulator.requests) == 3


# -- WebSockets -------------------------------------------------------------------


@dataclass
class _Socket:
    """How a graphql-transport-ws connection went: acknowledged, and the subscription's
    payloads until ``complete``; or closed by the server with a code and reason."""

    acked: bool = False
    payloads: list[dict[str, Any]] = field(default_factory=list)
    completed: bool = False
    close_code: int | None = None
    close_reason: str = ""


async def _watch(
    url: str, payload: dict[str, Any], headers: Mapping[str, str] | None = None
) -> _Socket:
    """Open a socket, init it with ``payload`` and subscribe to WatchActionPlan at once
    (pipelined: a refused socket must not run the subscription it already holds)."""
    outcome = _Socket()
    ws_url = url.replace("http://", "ws://") + "/graphql"
    subscribe = {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": operation("WatchActionPlan"), "variables": {"text": TEXT}},
    }
    with anyio.fail_after(15):
        async with connect(
            ws_url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            additional_headers=dict(headers or {}),
            open_timeout=5,
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            await ws.send(json.dumps(subscribe))
            try:
                while not outcome.completed:
                    message = json.loads(await ws.recv())
                    if message["type"] == "connection_ack":
                        outcome.acked = True
                    elif message["type"] == "next":
                        outcome.payloads.append(message["payload"])
                    elif message["type"] == "complete":
                        outcome.completed = True
                    elif message["type"] == "ping":
                        await ws.send(json.dumps({"type": "pong"}))
                    else:
                        raise AssertionError(message)
            except ConnectionClosed as exc:
                assert exc.rcvd is not None, "the client closed, not the server"
                outcome.close_code, outcome.close_reason = exc.rcvd.code, exc.rcvd.reason
    return outcome


def _final(outcome: _Socket) -> dict[str, Any]:
    assert outcome.acked and outcome.completed, outcome
    last = outcome.payloads[-1]
    assert "errors" not in last, last
    result: dict[str, Any] = last["data"]["extractActionPlan"]
    return result


@pytest.mark.anyio
async def test_websocket_credentials_in_the_init_payload_or_the_upgrade_headers(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(api_keys=[KEY_A, KEY_B]).url
    accepted: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({"Authorization": f"Bearer {KEY_A}"}, {}),
        ({"x-api-key": KEY_A}, {}),
        ({"apiKey": KEY_B}, {}),
        ({}, _bearer(KEY_A)),
        ({}, {"x-api-key": KEY_B}),
    ]
    for payload, headers in accepted:
        outcome = await _watch(url, payload, headers)
        assert _final(outcome)["__typename"] == "ActionPlanResult", (payload, headers)
    assert len(sim.simulator.requests) == len(accepted)


@pytest.mark.anyio
async def test_websocket_without_valid_credentials_is_closed_4401_before_any_work(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(api_keys=[KEY_A]).url
    wrong = "wrong-key-0123456789abcdef"
    refused: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({}, {}),
        ({"Authorization": f"Bearer {wrong}"}, {}),
        ({"x-api-key": wrong}, {}),
        ({"apiKey": wrong}, {}),
        ({"Authorization": KEY_A}, {}),  # no Bearer scheme: not a credential
        ({}, _bearer(wrong)),
        ({}, {"x-api-key": wrong}),
    ]
    for payload, headers in refused:
        outcome = await _watch(url, payload, headers)
        assert not outcome.acked and outcome.payloads == [], (payload, headers, outcome)
        assert outcome.close_code == 4401, (payload, headers, outcome)
        assert wrong not in outcome.close_reason and KEY_A not in outcome.close_reason
    assert sim.simulator.requests == []


@pytest.mark.anyio
async def test_a_websocket_spends_from_its_clients_budget(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(api_keys=[KEY_A, KEY_B], client_daily_tokens=_one_plan_of_budget()).url
    assert _served(_plan(url, _bearer(KEY_A)))
    spent = _final(await _watch(url, {"apiKey": KEY_A}))
    assert spent["__typename"] == "TaskError" and spent["code"] == "BUDGET_EXCEEDED", spent
    assert len(sim.simulator.requests) == 1
    assert _final(await _watch(url, {"apiKey": KEY_B}))["__typename"] == "ActionPlanResult"
    assert len(sim.simulator.requests) == 2


# -- JWT --------------------------------------------------------------------------


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "user-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return claims


def _hs256(secret: str = SECRET, **claims: Any) -> str:
    return jwt.encode(_claims(**claims), secret, algorithm="HS256")


def test_hs256_tokens_end_to_end(bff: BffFactory, sim: SimulatorServer) -> None:
    url = bff(
        jwt_secret=SECRET,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        client_daily_tokens=_one_plan_of_budget(),
    ).url
    assert _served(_plan(url, _bearer(_hs256(sub="user-1"))))
    assert len(sim.simulator.requests) == 1
    now = int(time.time())
    refused = {
        "the token has expired": _hs256(exp=now - 3600),
        "the token's audience is not accepted": _hs256(aud="someone-else"),
        "the token's issuer is not accepted": _hs256(iss="https://evil.example.test/"),
        "the token's signature is not valid": _hs256(secret="another-secret-" + "x" * 32),
        "the token's algorithm is not accepted": jwt.encode(_claims(), "", algorithm="none"),
        "the token has no subject": _hs256(sub=""),
    }
    for expected, token in refused.items():
        response = _graphql(url, operation("ExtractActionPlan"), _bearer(token), text=TEXT)
        assert _assert_refused(response, token) == expected
        response = _graphql(url, operation("ExtractActionPlan"), {"x-api-key": token}, text=TEXT)
        _assert_refused(response, token)
        chat = _client().post(f"{url}/chat/stream", json=CHAT, headers=_bearer(token))
        assert _assert_refused(chat, token) == expected
    _assert_refused(_graphql(url, HEALTH))  # JWT configured: credentials are required
    assert len(sim.simulator.requests) == 1
    # Each subject is a client with its own daily budget.
    assert _over_budget(_plan(url, _bearer(_hs256(sub="user-1"))))
    assert _served(_plan(url, _bearer(_hs256(sub="user-2"))))
    assert len(sim.simulator.requests) == 2


def test_a_token_cannot_name_itself_into_another_clients_budget(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    """A JWT subject is a client of its own, whatever it is called: not the anonymous
    client, not a key's client, not a configured client's."""
    clients = {"acme": {"key_sha256": _sha256(ACME_KEY)}}
    url = bff(
        api_keys=[KEY_A],
        clients=clients,
        allow_anonymous=True,
        jwt_secret=SECRET,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        client_daily_tokens=_one_plan_of_budget(),
    ).url
    for headers in ({}, _bearer(KEY_A), _bearer(ACME_KEY)):
        assert _served(_plan(url, headers)), headers
        assert _over_budget(_plan(url, headers)), headers
    assert len(sim.simulator.requests) == 3
    for subject in ("anonymous", KEY_A, f"key:{_sha256(KEY_A)[:16]}", "acme", "client:acme"):
        assert _served(_plan(url, _bearer(_hs256(sub=subject)))), subject
    assert len(sim.simulator.requests) == 8


class _KeyServer:
    """A JWKS endpoint publishing RSA_A's public key under kid "a"; counts requests."""

    def __init__(self) -> None:
        self.requests = 0
        self.app = Starlette(routes=[Route("/jwks", self._jwks)])

    async def _jwks(self, request: Request) -> JSONResponse:
        self.requests += 1
        jwk: Any = RSAAlgorithm.to_jwk(RSA_A.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**jwk, "kid": "a", "use": "sig", "alg": "RS256"}]})


@pytest.fixture(scope="module")
def jwks() -> Iterator[tuple[_KeyServer, str]]:
    keys = _KeyServer()
    with ServerThread(keys.app) as server:
        yield keys, f"{server.url}/jwks"


def _rs256(key: Any = RSA_A, kid: str = "a", **claims: Any) -> str:
    return jwt.encode(_claims(**claims), key, algorithm="RS256", headers={"kid": kid})


@pytest.mark.anyio
async def test_jwks_tokens_end_to_end(
    bff: BffFactory, sim: SimulatorServer, jwks: tuple[_KeyServer, str]
) -> None:
    keys, jwks_url = jwks
    url = bff(
        jwt_jwks_url=jwks_url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        client_daily_tokens=_one_plan_of_budget(),
    ).url
    assert _served(_plan(url, _bearer(_rs256(sub="user-1"))))
    assert keys.requests == 1
    forged = _rs256(key=RSA_B, sub="user-1")  # another key, claiming key "a"
    assert _assert_refused(_graphql(url, HEALTH, _bearer(forged)), forged) == (
        "the token's signature is not valid"
    )
    confused = _hs256(sub="user-1")  # HS256 is never accepted against a key set
    assert _assert_refused(_graphql(url, HEALTH, _bearer(confused)), confused) == (
        "the token's algorithm is not accepted"
    )
    outcome = await _watch(url, {"Authorization": f"Bearer {forged}"})
    assert outcome.close_code == 4401 and not outcome.acked, outcome
    assert len(sim.simulator.requests) == 1
    # Subjects have separate budgets, over HTTP and WebSockets alike.
    assert _over_budget(_plan(url, _bearer(_rs256(sub="user-1"))))
    final = _final(await _watch(url, {"Authorization": f"Bearer {_rs256(sub='user-2')}"}))
    assert final["__typename"] == "ActionPlanResult", final
    assert len(sim.simulator.requests) == 2
    assert keys.requests == 1  # the key set was cached
