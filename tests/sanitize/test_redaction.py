"""PII never reaches the provider; text without PII passes unchanged; restoration round-trips."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bff.config import Settings
from bff.demo.model import DEMO_ANSWERS
from bff.demo.tasks import EXTRACT_ACTION_PLAN, TextInput
from bff.pii import Redactor, build_scanner
from bff.pipeline import Pipeline, ProviderResolver
from bff.providers.openai import OpenAIProvider
from bff.providers.registry import ProviderRegistry
from bff.run import Completed
from bff.testing.server import SimulatorServer
from bff.testing.simulator import Simulator
from tests.conftest import BffFactory
from tests.sanitize.helpers import WORDS, assert_nothing_sent, texts_with_pii

JSON_BODY = {"content-type": "application/json"}

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
# Through the pipeline each example is a whole run: the redactor's own properties above
# draw the 200 texts; these examples show that the pipeline sends nothing unredacted.
PIPELINE = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(texts_with_pii())
def test_every_kind_is_redacted_and_restored(sample: tuple[str, dict[str, str]]) -> None:
    text, values = sample
    redactor = Redactor(build_scanner())
    redacted = redactor.redact(text)
    for value in values.values():
        assert value not in redacted
    assert redactor.restore(redacted) == text
    assert set(redactor.counts) >= {key.split(":")[0] for key in values}


@SETTINGS
@given(st.lists(WORDS, max_size=8).map(". ".join))
def test_text_without_pii_is_unchanged(text: str) -> None:
    redactor = Redactor(build_scanner())
    assert redactor.redact(text) == text and not redactor.counts


def test_placeholders_are_consistent_within_a_request() -> None:
    redactor = Redactor(build_scanner())
    first = redactor.redact("mail ann@example.com, then bob@example.com")
    second = redactor.redact("again ann@example.com")
    assert first == "mail [EMAIL_1], then [EMAIL_2]"
    assert second == "again [EMAIL_1]"
    assert redactor.counts == {"EMAIL": 2}


def test_near_misses_are_left_alone() -> None:
    text = "Card 4111 1111 1111 1112, on 2024-05-01 at 10:30, order 12345, version 3.14"
    assert Redactor(build_scanner()).redact(text) == text


async def _extract(providers: ProviderResolver, settings_: Settings, text: str) -> Completed:
    result = await Pipeline(providers, settings_).execute(
        EXTRACT_ACTION_PLAN, TextInput(text="Please call Bob. " + text)
    )
    assert isinstance(result, Completed)
    return result


IN_PROCESS = "http://simulator.invalid/v1"  # ASGITransport answers; nothing is resolved


@PIPELINE
@given(sample=texts_with_pii())
def test_no_original_value_reaches_the_provider(sample: tuple[str, dict[str, str]]) -> None:
    """The real pipeline and OpenAI provider, the simulator in process (ASGI, no socket):
    what the simulator receives holds no original value, plain or JSON-escaped."""
    text, values = sample
    sim = Simulator(DEMO_ANSWERS)  # a fresh one per example: nothing carried over
    config = Settings(model="sim/gpt-4o", endpoints={"sim": {"base_url": IN_PROCESS}})  # type: ignore[arg-type]
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sim.app))
    provider = OpenAIProvider(api_key="sk-test", base_url=IN_PROCESS, http_client=http)

    async def run() -> Completed:
        try:
            return await _extract(lambda route: provider, config, text)
        finally:
            await provider.aclose()

    result = anyio.run(run)
    assert_nothing_sent(sim.requests, values.values())
    assert sum(result.meta.redactions.values()) >= 1


# Every kind, over loopback through the provider registry: what the in-process test
# checks, once more with real HTTP between the BFF and the simulator.
EVERY_KIND = {
    "EMAIL": "ann.x@corp.example.com",
    "PHONE": "+44 20 7946 0958",
    "CARD": "4111 1111 1111 1111",
    "IBAN": "DE89370400440532013000",
    "SSN": "123-45-6789",
    "IP": "203.0.113.7",
    "IPv6": "2001:db8:85a3::8a2e:370:7334",
    "SECRET": "sk-proj-" + "A1b2C3d4" * 4,
    "JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlMTIzNDU2",
}


QUOTED = 'Send {CARD} to {EMAIL} and "{SECRET}" \\ done'.format(**EVERY_KIND)


@pytest.mark.parametrize(
    "text", [", ".join(EVERY_KIND.values()) + ".", QUOTED], ids=["every-kind", "quoted"]
)
def test_no_original_value_reaches_the_simulator(sim: SimulatorServer, text: str) -> None:
    config = Settings(model="sim/gpt-4o", endpoints={"sim": {"base_url": sim.base_url}})  # type: ignore[arg-type]

    async def run() -> Completed:
        registry = ProviderRegistry(config)
        try:
            return await _extract(registry.get, config, text)
        finally:
            await registry.aclose()

    result = anyio.run(run)
    values = [v for v in EVERY_KIND.values() if v in text]
    assert_nothing_sent(sim.simulator.requests, values)
    assert sum(result.meta.redactions.values()) >= len(values)


def test_restoring_into_the_output(sim: SimulatorServer) -> None:
    config = Settings(model="sim/gpt-4o", endpoints={"sim": {"base_url": sim.base_url}})  # type: ignore[arg-type]
    text = TextInput(text="Email ann@example.com today.")

    async def run(restore: bool) -> str:
        registry = ProviderRegistry(config)
        task = replace(EXTRACT_ACTION_PLAN, restore_pii=restore)
        result = await Pipeline(registry.get, config).execute(task, text)
        await registry.aclose()
        assert isinstance(result, Completed)
        return result.output.actions[0].summary  # type: ignore[attr-defined, no-any-return]

    assert anyio.run(run, False) == "Email [EMAIL_1] today"
    assert anyio.run(run, True) == "Email ann@example.com today"
    assert "ann@example.com" not in json.dumps([r.body for r in sim.simulator.requests])


def test_chat_redacts_too(bff: BffFactory, sim: SimulatorServer) -> None:
    body = {"messages": [{"role": "user", "content": "My card is 4111 1111 1111 1111."}]}
    response = httpx.post(f"{bff().url}/chat/stream", json=body, timeout=30)
    assert '"redactions":{"CARD":1}' in response.text
    (record,) = sim.simulator.requests
    assert record.body["messages"][0]["content"] == "My card is [CARD_1]."


def test_input_limits_and_control_characters(bff: BffFactory, sim: SimulatorServer) -> None:
    from tests.api.helpers import mutate

    server = bff()

    def payload(text: str) -> dict[str, Any]:
        return mutate(server.url, "ExtractActionPlan", text=text)["extractActionPlan"]

    cleaned = payload("Call\x00 Bob\x07 today.\tThanks")
    assert cleaned["__typename"] == "ActionPlanResult"
    (record,) = sim.simulator.requests
    assert record.body["messages"][1]["content"] == "Call Bob today.\tThanks"
    only_control = payload("\x00\x01")
    assert only_control["code"] == "INPUT_REJECTED"
    assert only_control["message"] == "text: String should have at least 1 character"
    wordy = payload("word " * 3000)  # 15,000 characters: within 20,000, but ~3,800 tokens
    assert wordy["__typename"] == "ActionPlanResult"
    assert len(sim.simulator.requests) == 2


def test_the_token_limit_is_named(bff: BffFactory, sim: SimulatorServer) -> None:
    from tests.api.helpers import mutate

    tasks = replace(EXTRACT_ACTION_PLAN, max_input_tokens=100, max_input_chars=300)
    from bff.tasks import TaskRegistry

    server = bff(TaskRegistry([tasks]))
    too_long = mutate(server.url, "ExtractActionPlan", text="x" * 301)["extractActionPlan"]
    assert too_long["code"] == "INPUT_REJECTED"
    assert too_long["message"] == "the input is 301 characters; max_input_chars is 300"
    too_many = mutate(server.url, "ExtractActionPlan", text="y" * 290)["extractActionPlan"]
    assert too_many["code"] == "INPUT_REJECTED"
    assert too_many["message"].endswith("tokens; max_input_tokens is 100")
    assert sim.simulator.requests == []


def test_invalid_text_is_rejected(bff: BffFactory, sim: SimulatorServer) -> None:
    server = bff()
    body = b'{"messages":[{"role":"user","content":"bad \\ud800 surrogate"}]}'
    response = httpx.post(f"{server.url}/chat/stream", content=body, headers=JSON_BODY, timeout=30)
    assert response.status_code == 400
    assert "Invalid JSON" in response.json()["error"]["message"]
    from tests.api.helpers import operation

    query = (
        b'{"query": %s, "variables": {"text": "bad \\ud800 surrogate"}}'
        % json.dumps(operation("ExtractActionPlan")).encode()
    )
    answer = httpx.post(
        f"{server.url}/graphql", content=query, headers={"content-type": "application/json"}
    ).json()["data"]["extractActionPlan"]
    assert answer["code"] == "INPUT_REJECTED"
    assert answer["message"].startswith("text: Input should be a valid string")
    assert sim.simulator.requests == []
