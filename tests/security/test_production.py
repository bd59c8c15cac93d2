"""Production mode: what a server facing the internet keeps to itself.

``bff serve`` on a public address defaults to production and refuses to start
without credentials; production serves no GraphiQL, no introspection, no field
suggestions, no demo fault switch, a bare liveness answer, metrics only behind a
token or on the admin port, and a fixed sentence per error code instead of any
detail. Each closed door is shown open in development, so no check passes by
accident, and a provider's own words reach no client in either mode.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import time
from dataclasses import replace
from typing import Any

import anyio
import httpx
import pytest

from bff.config import load_settings
from bff.demo.tasks import EXTRACT_ACTION_PLAN
from bff.disclosure import CODE_MESSAGES, KIND_MESSAGES
from bff.exceptions import ConfigError
from bff.run import ErrorCode
from bff.tasks import TaskRegistry
from bff.testing.server import ServerThread, SimulatorServer, free_port
from tests.api.helpers import operation, sse_events
from tests.conftest import BffFactory
from tests.processes import BFF, clean_env, running
from tests.security.sockets import open_socket

KEY = "prod-key-0123456789abcdef"
AUTH = {"x-api-key": KEY}
METRICS_TOKEN = "metrics-token-0123456789"
TEXT = "Please call Bob today. Review the Q3 budget next week."
CHAT = {"messages": [{"role": "user", "content": "Tell me about lighthouses."}]}
PROMETHEUS = "text/plain"  # the exposition format, whichever version
# What an upstream error body may carry: a key, an organization, an address.
UPSTREAM = "Incorrect API key provided: sk-live-123 org-XYZ jane@example.com"
UPSTREAM_PIECES = ("Incorrect API key", "sk-live-123", "org-XYZ", "jane@example.com")
NO_SAFETY = TaskRegistry([replace(EXTRACT_ACTION_PLAN, safe_response=None)])
INTROSPECTION = "{ __schema { types { name } } }"
TYPO = "{ helth { status } }"


def _graphql(url: str, query: str, **variables: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers=AUTH,
        timeout=30,
    )


def _plan(url: str, text: str = TEXT) -> tuple[dict[str, Any], str]:
    """The extractActionPlan payload, and the whole response text."""
    response = _graphql(url, operation("ExtractActionPlan"), text=text)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["extractActionPlan"]
    return payload, response.text


def _errors(response: httpx.Response) -> list[str]:
    body = response.json()
    assert body.get("data") is None, body
    return [error["message"] for error in body["errors"]]


def _edge_server(bff: BffFactory, **settings: Any) -> ServerThread:
    """A server with a key and a demo route (so the fault switch exists unless hidden)."""
    return bff(api_keys=[KEY], fallback_models=["demo/heuristic"], **settings)


# -- bff serve ----------------------------------------------------------------------


def test_serve_on_a_public_host_without_credentials_exits_before_binding() -> None:
    # The port is held on loopback meanwhile: had bff tried to bind 0.0.0.0 on it, it
    # would have failed with exit code 1 ("address already in use"), not 2.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        started = time.monotonic()
        result = subprocess.run(
            [*BFF, "serve", "--host", "0.0.0.0", "--port", str(held.getsockname()[1])],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2, result
    assert time.monotonic() - started < 10
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bff: invalid setting BFF_ENV"), lines[0]
    assert "BFF_ALLOW_ANONYMOUS=true" in lines[0]


def test_serve_in_production_with_anonymous_allowed_and_an_admin_port() -> None:
    """Production starts when anonymous callers are allowed on purpose; with an admin
    port, /metrics is served there only, not on the main port, token or not."""
    port, admin = free_port(), free_port()
    url, admin_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin}"
    env = clean_env(
        BFF_ENV="production",
        BFF_ALLOW_ANONYMOUS="true",
        BFF_ADMIN_PORT=str(admin),
        BFF_METRICS_TOKEN=METRICS_TOKEN,
    )
    argv = [*BFF, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with running(argv, ready_url=f"{url}/healthz", env=env):
        healthz = httpx.get(f"{url}/healthz")
        assert healthz.status_code == 200 and healthz.json() == {"status": "ok"}  # production
        assert httpx.get(f"{url}/graphql", headers={"accept": "text/html"}).status_code == 404
        health = httpx.post(f"{url}/graphql", json={"query": "{ health { status } }"})
        assert health.json() == {"data": {"health": {"status": "ok"}}}  # anonymous is served
        bearer = {"authorization": f"Bearer {METRICS_TOKEN}"}
        assert httpx.get(f"{url}/metrics").status_code == 404
        assert httpx.get(f"{url}/metrics", headers=bearer).status_code == 404
        metrics = httpx.get(f"{admin_url}/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith(PROMETHEUS)
        assert "# TYPE bff_refusals_total counter" in metrics.text


def test_the_environment_follows_the_host_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings level, so no test binds a public address: development may be chosen
    for one on purpose; without BFF_ENV only loopback hosts are development; production
    chosen on loopback still needs credentials."""
    for name in [n for n in os.environ if n.startswith(("BFF_", "OPENAI_"))]:
        monkeypatch.delenv(name)
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert load_settings().for_host(host).env == "development", host
    for host in ("0.0.0.0", "::", "192.0.2.10", "bff.example.test"):
        with pytest.raises(ConfigError) as refused:
            load_settings().for_host(host)
        assert str(refused.value).startswith("BFF_ENV"), host
    monkeypatch.setenv("BFF_ENV", "development")
    assert load_settings().for_host("0.0.0.0").env == "development"
    monkeypatch.setenv("BFF_ENV", "production")
    with pytest.raises(ConfigError) as refused:
        load_settings().for_host("127.0.0.1")
    assert str(refused.value).startswith("BFF_ENV")
    monkeypatch.setenv("BFF_API_KEYS", KEY)
    assert load_settings().for_host("127.0.0.1").production


# -- production over HTTP --------------------------------------------------------------


def test_production_hides_the_ide_introspection_suggestions_demo_and_metrics(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = _edge_server(bff, env="production").url
    ide = httpx.get(f"{url}/graphql", headers={"accept": "text/html"})
    assert ide.status_code == 404 and "graphiql" not in ide.text.lower()
    for query in (INTROSPECTION, '{ __type(name: "Query") { fields { name } } }'):
        introspection = _graphql(url, query)
        assert any("introspection has been disabled" in m for m in _errors(introspection))
        assert "__Schema" not in introspection.text and "health" not in introspection.text
    typo = _graphql(url, TYPO)
    messages = _errors(typo)
    assert messages == ["Cannot query field 'helth' on type 'Query'."]
    assert "Did you mean" not in typo.text and "health" not in typo.text
    healthz = httpx.get(f"{url}/healthz")
    assert healthz.status_code == 200 and healthz.json() == {"status": "ok"}
    assert httpx.get(f"{url}/metrics").status_code == 404
    assert httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {KEY}"}).status_code == (
        404
    )
    # No fault switch: it can be neither read nor thrown.
    read = httpx.get(f"{url}/demo/faults")
    switch = {"route": "demo/heuristic", "rate": 1.0, "kinds": ["malformed"]}
    thrown = httpx.put(f"{url}/demo/faults", json=switch, headers=AUTH)
    sim.simulator.add({"status": 503, "repeat": 3})  # the demo fallback answers, unfaulted
    payload, _ = _plan(url)
    assert payload["__typename"] == "ActionPlanResult", payload
    assert payload["meta"]["model"] == "demo/heuristic" and payload["meta"]["fallback"] == "MODEL"
    assert "demo/heuristic" not in read.text + thrown.text
    assert (read.status_code, thrown.status_code) == (404, 404)


def test_development_shows_what_production_hides(bff: BffFactory) -> None:
    """The control for the test above: the same settings in development."""
    url = _edge_server(bff, env="development").url
    ide = httpx.get(f"{url}/graphql", headers={"accept": "text/html"})
    assert ide.status_code == 200 and "graphiql" in ide.text.lower()
    introspection = _graphql(url, INTROSPECTION)
    names = [t["name"] for t in introspection.json()["data"]["__schema"]["types"]]
    assert "Query" in names and "__Schema" in names
    assert "Did you mean 'health'?" in _errors(_graphql(url, TYPO))[0]
    assert httpx.get(f"{url}/demo/faults").status_code == 200
    switch = {"route": "demo/heuristic", "rate": 0.0, "kinds": ["malformed"]}
    assert httpx.put(f"{url}/demo/faults", json=switch, headers=AUTH).status_code == 200
    assert set(httpx.get(f"{url}/healthz").json()) > {"status"}
    assert httpx.get(f"{url}/metrics").status_code == 200


def test_graphiql_in_development_has_a_strict_policy_with_script_hashes(
    bff: BffFactory,
) -> None:
    page = httpx.get(f"{bff().url}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert len(page.headers.get_list("content-security-policy")) == 1
    assert "script-src https://unpkg.com 'sha256-" in csp
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp and "unsafe-eval" not in csp
    # Every inline script of the page is allowed by its hash, and only those.
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.S)
    assert inline
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in inline
    }
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert set(re.findall(r"'sha256-[^']+'", script_src)) == hashes


def test_production_metrics_need_the_metrics_token(bff: BffFactory) -> None:
    url = bff(env="production", api_keys=[KEY], metrics_token=METRICS_TOKEN).url
    httpx.post(f"{url}/graphql", json={"query": "{ health { status } }"})  # one refusal
    for headers in (
        {},
        {"authorization": f"Bearer {KEY}"},  # an API key is not the metrics token
        {"x-api-key": METRICS_TOKEN},
        {"authorization": f"Basic {METRICS_TOKEN}"},
        {"authorization": f"Bearer {METRICS_TOKEN[:-1]}"},
    ):
        refused = httpx.get(f"{url}/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert "bff_" not in refused.text and METRICS_TOKEN not in refused.text
    metrics = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith(PROMETHEUS)
    assert 'bff_refusals_total{reason="unauthenticated"} 1.0' in metrics.text


# -- what clients read about failures ---------------------------------------------------


async def _watch(url: str) -> list[dict[str, Any]]:
    """The payloads of a WatchActionPlan subscription (with the key) until complete."""
    payload = {"query": operation("WatchActionPlan"), "variables": {"text": TEXT}}
    with anyio.fail_after(15):
        async with open_socket(url, KEY) as socket:
            await socket.subscribe("1", payload)
            return [data["extractActionPlan"] for data in await socket.results("1")]


def _chat_error(url: str) -> tuple[dict[str, Any], str]:
    response = httpx.post(f"{url}/chat/stream", json=CHAT, headers=AUTH, timeout=30)
    events = sse_events(response.text)
    assert events[-1][0] == "error", events
    return events[-1][2], response.text


def _assert_no_upstream_text(*texts: str) -> None:
    for text in texts:
        for piece in UPSTREAM_PIECES:
            assert piece not in text, (piece, text)


def _scripted(sim: SimulatorServer, status: int) -> None:
    sim.simulator.add({"status": status, "error_message": UPSTREAM})


def test_production_errors_are_fixed_sentences(bff: BffFactory, sim: SimulatorServer) -> None:
    url = bff(NO_SAFETY, env="production", api_keys=[KEY], breaker_threshold=10).url
    _scripted(sim, 400)
    payload, text = _plan(url)
    assert payload["__typename"] == "TaskError" and payload["code"] == "PROVIDER_UNAVAILABLE"
    assert payload["message"] == CODE_MESSAGES[ErrorCode.PROVIDER_UNAVAILABLE]
    assert [e["kind"] for e in payload["meta"]["errors"]] == ["client_error"]
    assert [e["message"] for e in payload["meta"]["errors"]] == [KIND_MESSAGES["client_error"]]
    _scripted(sim, 400)
    error, stream = _chat_error(url)
    assert error == {
        "code": "PROVIDER_UNAVAILABLE",
        "message": CODE_MESSAGES[ErrorCode.PROVIDER_UNAVAILABLE],
    }
    _assert_no_upstream_text(text, stream)
    assert len(sim.simulator.requests) == 2
    # The client's own mistake keeps its words.
    rejected, _ = _plan(url, text="")
    assert rejected["code"] == "INPUT_REJECTED"
    assert rejected["message"] == "text: String should have at least 1 character"
    assert len(sim.simulator.requests) == 2


@pytest.mark.anyio
async def test_production_retry_events_are_fixed_sentences(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(NO_SAFETY, env="production", api_keys=[KEY], breaker_threshold=10).url
    _scripted(sim, 500)
    payloads = await _watch(url)
    retrying = [p for p in payloads if p["__typename"] == "RunRetrying"]
    assert [r["message"] for r in retrying] == [KIND_MESSAGES["server_error"]], payloads
    assert payloads[-1]["__typename"] == "ActionPlanResult"
    assert [e["message"] for e in payloads[-1]["meta"]["errors"]] == [KIND_MESSAGES["server_error"]]
    _assert_no_upstream_text(json.dumps(payloads))


@pytest.mark.anyio
async def test_development_errors_name_the_status_but_not_the_providers_words(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(NO_SAFETY, env="development", api_keys=[KEY], breaker_threshold=10).url
    _scripted(sim, 400)
    payload, text = _plan(url)
    assert payload["code"] == "PROVIDER_UNAVAILABLE"
    assert payload["message"] == "the provider refused the request (HTTP 400)"
    assert [e["message"] for e in payload["meta"]["errors"]] == [
        "the provider refused the request (HTTP 400)"
    ]
    _scripted(sim, 400)
    error, stream = _chat_error(url)
    assert error["message"] == "the provider refused the request (HTTP 400)"
    _scripted(sim, 500)
    payloads = await _watch(url)
    retrying = [p["message"] for p in payloads if p["__typename"] == "RunRetrying"]
    assert retrying == ["the provider failed on its side (HTTP 500)"]
    _assert_no_upstream_text(text, stream, json.dumps(payloads))
    assert len(sim.simulator.requests) == 4
