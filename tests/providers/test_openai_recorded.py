"""The openai provider consumes every recorded OpenAI stream, replayed over loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bff.providers.openai import OpenAIProvider
from bff.testing.server import SimulatorServer
from tests.conftest import RECORDED
from tests.providers.helpers import Assembled, assemble, request

pytestmark = pytest.mark.anyio
STREAMS = sorted((RECORDED / "stream").glob("*.sse"))


def _oracle(path: Path) -> Assembled:
    """What the file says, read line by line without the provider's code."""
    out = Assembled()
    for line in path.read_text().splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        for choice in chunk["choices"]:
            if choice["index"] != 0:
                continue
            delta = choice["delta"]
            out.text += delta.get("content") or ""
            out.refusal += delta.get("refusal") or ""
            for call in delta.get("tool_calls") or []:
                slot = out.calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                slot["id"] += call.get("id") or ""
                slot["name"] += call.get("function", {}).get("name") or ""
                slot["arguments"] += call.get("function", {}).get("arguments") or ""
            if choice["finish_reason"]:
                out.finish.append(choice["finish_reason"])
        if chunk.get("usage"):
            usage = chunk["usage"]
            out.usage.append((usage["prompt_tokens"], usage["completion_tokens"]))
    return out


def test_every_recording_is_present() -> None:
    assert len(STREAMS) == 17


@pytest.mark.parametrize("path", STREAMS, ids=[p.stem for p in STREAMS])
async def test_recorded_stream(sim: SimulatorServer, provider: OpenAIProvider, path: Path) -> None:
    sim.simulator.add({"body": path.read_text()})
    got = await assemble(provider, request())
    expected = _oracle(path)
    assert got.text == expected.text
    assert got.refusal == expected.refusal
    assert got.calls == expected.calls
    assert got.finish == expected.finish[:1] and len(got.finish) == 1
    assert got.usage == expected.usage


async def test_json_schema_recording_yields_the_document(
    sim: SimulatorServer, provider: OpenAIProvider
) -> None:
    sim.simulator.add(
        {"body": (RECORDED / "stream/openai-python__json_schema_content.sse").read_text()}
    )
    got = await assemble(provider, request())
    assert json.loads(got.text) == {"city": "San Francisco", "temperature": 61, "units": "f"}
    assert got.finish == ["stop"]


async def test_parallel_tool_calls_keep_their_indexes(
    sim: SimulatorServer, provider: OpenAIProvider
) -> None:
    path = RECORDED / "stream/openai-python__tool_calls_parallel_idx0_idx1.sse"
    sim.simulator.add({"body": path.read_text()})
    got = await assemble(provider, request())
    assert [got.calls[i]["name"] for i in (0, 1)] == ["GetWeatherArgs", "get_stock_price"]
    assert json.loads(got.calls[0]["arguments"]) == {
        "city": "Edinburgh",
        "country": "GB",
        "units": "c",
    }
    assert got.finish == ["tool_calls"]


async def test_refusal_recording(sim: SimulatorServer, provider: OpenAIProvider) -> None:
    sim.simulator.add({"body": (RECORDED / "stream/openai-python__refusal.sse").read_text()})
    got = await assemble(provider, request())
    assert got.text == ""
    assert got.refusal == "I'm sorry, I can't assist with that request."


async def test_length_recording(sim: SimulatorServer, provider: OpenAIProvider) -> None:
    path = RECORDED / "stream/openai-python__finish_reason_length_max_tokens1.sse"
    sim.simulator.add({"body": path.read_text()})
    got = await assemble(provider, request())
    assert (got.text, got.finish, got.usage) == ('{"', ["length"], [(79, 1)])
