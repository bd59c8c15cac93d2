"""A streaming request answered with ``Content-Type: application/json``: one whole
``chat.completion``, as some OpenAI-compatible servers send, read as that answer.

Through the real SDK over loopback: recorded non-streamed OpenAI completions
replayed as the answer to a streaming request, and the simulator's ``unstreamed``
answers compared with the streams it would have sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bff.exceptions import BadResponseError, ContentFilteredError, ProviderError, ServerError
from bff.providers import openai as openai_provider
from bff.providers._types import OutputSpec
from bff.providers.openai import OpenAIProvider
from bff.testing.server import SimulatorServer
from tests.conftest import RECORDED
from tests.providers.helpers import Assembled, assemble, request

pytestmark = pytest.mark.anyio
COMPLETIONS = sorted((RECORDED / "nonstream").glob("*_with_usage.json"))
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def _oracle(path: Path) -> Assembled:
    """What the recorded completion says, read without the provider's code."""
    completion = json.loads(path.read_text())
    (choice,) = completion["choices"]
    message = choice["message"]
    out = Assembled(text=message.get("content") or "", refusal=message.get("refusal") or "")
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call["function"]
        out.calls[index] = {
            "id": call["id"],
            "name": function["name"],
            "arguments": function["arguments"],
        }
    out.finish = [choice["finish_reason"]]
    usage = completion["usage"]
    out.usage = [(usage["prompt_tokens"], usage["completion_tokens"])]
    return out


def test_every_recorded_completion_is_present() -> None:
    assert len(COMPLETIONS) == 6


@pytest.mark.parametrize("path", COMPLETIONS, ids=[p.stem for p in COMPLETIONS])
async def test_a_recorded_completion_answering_a_stream_is_read_as_the_answer(
    sim: SimulatorServer, provider: OpenAIProvider, path: Path
) -> None:
    sim.simulator.add({"body": path.read_text(), "content_type": "application/json"})
    got = await assemble(provider, request())
    expected = _oracle(path)
    assert (got.text, got.refusal, got.calls) == (expected.text, expected.refusal, expected.calls)
    assert (got.finish, got.usage) == (expected.finish, expected.usage)
    (record,) = sim.simulator.requests
    assert record.stream is True  # the request did ask for a stream


def _without_ids(got: Assembled) -> Assembled:
    """The simulator gives each tool call a fresh id; the rest must match."""
    for call in got.calls.values():
        assert call["id"].startswith("call_")
        call["id"] = ""
    got.events = 0  # a stream comes in more pieces
    return got


@pytest.mark.parametrize(
    ("step", "output"),
    [
        ({}, OutputSpec()),
        ({}, OutputSpec("json_schema", "Answer", SCHEMA)),
        ({}, OutputSpec("tools", "Answer", SCHEMA)),
        ({"fault": "refusal"}, OutputSpec("json_schema", "Answer", SCHEMA)),
        ({"fault": "length"}, OutputSpec()),
        (
            {"tool_calls": [{"name": "lookup", "arguments": '{"q": "Bob"}'}, {"name": "other"}]},
            OutputSpec(),
        ),
    ],
    ids=["text", "json_schema", "tools", "refusal", "length", "parallel_tool_calls"],
)
async def test_an_unstreamed_answer_gives_the_events_its_stream_gives(
    sim: SimulatorServer, provider: OpenAIProvider, step: dict[str, Any], output: OutputSpec
) -> None:
    sim.simulator.add({**step, "unstreamed": True}, step)
    whole = await assemble(provider, request(output=output))
    streamed = await assemble(provider, request(output=output))
    assert _without_ids(whole) == _without_ids(streamed)
    assert whole.finish and whole.usage and (whole.text or whole.refusal or whole.calls)
    first, second = sim.simulator.wait_until_settled()
    assert first.stream and second.stream and first.outcome == second.outcome == "completed"


async def test_content_filter_in_an_unstreamed_answer(
    sim: SimulatorServer, provider: OpenAIProvider
) -> None:
    sim.simulator.add({"fault": "content_filter", "unstreamed": True})
    with pytest.raises(ContentFilteredError):
        await assemble(provider, request())


async def test_a_charset_parameter_changes_nothing(
    sim: SimulatorServer, provider: OpenAIProvider
) -> None:
    path = RECORDED / "nonstream/simonw-llm__text_stop_with_usage.json"
    body = path.read_text()
    sim.simulator.add({"body": body, "content_type": "Application/JSON; charset=utf-8"})
    got = await assemble(provider, request())
    assert (got.text, got.finish) == ("YES", ["stop"])


SECRET = "sk-upstream-SECRET-do-not-echo"
NOT_COMPLETIONS = {
    "not_json": f"<html>{SECRET}</html>",
    "a_list": json.dumps([SECRET]),
    "another_object": json.dumps({"object": "list", "data": [SECRET]}),
    "a_chunk": json.dumps(
        {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": SECRET}}]}
    ),
    "no_choices": json.dumps({"object": "chat.completion", "choices": [], "id": SECRET}),
    "no_finish_reason": json.dumps(
        {"choices": [{"index": 0, "message": {"content": SECRET}, "finish_reason": None}]}
    ),
    "content_not_text": json.dumps(
        {"choices": [{"index": 0, "message": {"content": [SECRET]}, "finish_reason": "stop"}]}
    ),
    "arguments_not_text": json.dumps(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "content": None,
                        "tool_calls": [{"id": SECRET, "function": {"name": "f", "arguments": {}}}],
                    },
                    "finish_reason": "tool_calls",
                }
            ]
        }
    ),
    "usage_not_counts": json.dumps(
        {
            "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": SECRET, "completion_tokens": 1},
        }
    ),
}


@pytest.mark.parametrize("body", NOT_COMPLETIONS.values(), ids=NOT_COMPLETIONS.keys())
async def test_a_json_body_that_is_not_a_completion_is_a_bad_response(
    sim: SimulatorServer, provider: OpenAIProvider, body: str
) -> None:
    sim.simulator.add({"body": body, "content_type": "application/json"})
    with pytest.raises(BadResponseError) as caught:
        await assemble(provider, request())
    error = caught.value
    assert not error.retryable
    assert "application/json" in str(error) and "chat.completion" in str(error)
    assert SECRET not in str(error)  # the upstream's words never reach the message


async def test_an_error_envelope_as_json_is_the_providers_error(
    sim: SimulatorServer, provider: OpenAIProvider
) -> None:
    """A 200 carrying an error envelope is what an error event inside a stream is."""
    envelope = {"error": {"message": "overloaded", "type": "server_error", "code": None}}
    sim.simulator.add({"body": json.dumps(envelope), "content_type": "application/json"})
    with pytest.raises(ProviderError) as caught:
        await assemble(provider, request())
    assert type(caught.value) is ServerError and caught.value.retryable


async def test_a_json_body_over_the_limit_is_not_read_to_its_end(
    sim: SimulatorServer, provider: OpenAIProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_provider, "MAX_WHOLE_BODY", 100)
    path = RECORDED / "nonstream/simonw-llm__text_stop_with_usage.json"
    sim.simulator.add({"body": path.read_text(), "content_type": "application/json"})
    with pytest.raises(BadResponseError, match="application/json over 100 bytes"):
        await assemble(provider, request())
