"""Every provider failure maps to one typed error, through the real SDK over loopback."""

from __future__ import annotations

import json
from contextlib import aclosing
from pathlib import Path

import pytest

from bff.exceptions import (
    ClientRequestError,
    ContentFilteredError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    ServerError,
    StreamInterruptedError,
)
from bff.providers._types import OutputSpec, TextDelta
from bff.providers.openai import OpenAIProvider, Timeouts
from bff.testing.server import SimulatorServer, free_port
from tests.conftest import RECORDED
from tests.providers.helpers import assemble, request

pytestmark = pytest.mark.anyio


PROVIDER_TIMEOUTS = Timeouts(connect=1, read=0.5)  # for the provider fixture (conftest.py)


def _replay(path: Path) -> dict[str, object]:
    """A step that answers with a recorded error's status, headers and body."""
    meta_path = path.with_name(path.name.rsplit(".", 1)[0] + ".headers.json")
    step: dict[str, object] = {"body": path.read_text()}
    status = int(path.name.split("__")[1].split("_")[0])
    step["status"] = status
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        headers = {k.lower(): v[0] for k, v in meta["headers"].items()}
        step["content_type"] = headers.pop("content-type")
        for drop in ("content-length", "transfer-encoding", "connection", "content-encoding"):
            headers.pop(drop, None)
        step["headers"] = headers
    return step


async def _fail(provider: OpenAIProvider, **kwargs: object) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await assemble(provider, request(**kwargs))  # type: ignore[arg-type]
    return caught.value


async def test_recorded_429_is_rate_limited_with_retry_after(
    sim: SimulatorServer, provider: OpenAIProvider
) -> None:
    sim.simulator.add(_replay(RECORDED / "errors/dd-trace-py__429_rate_limit_requests_rpm.json"))
    error = await _fail(provider)
    assert isinstance(error, RateLimitedError) and error.retryable
    assert error.retry_after == 20.0
    assert error.message.startswith("Rate limit reached for gpt-3.5-turbo")


async def test_recorded_500_is_a_server_error(
    sim: SimulatorServer, provider: OpenAIProvider
) -> None:
    sim.simulator.add(_replay(RECORDED / "errors/openllmetry__500_server_error_traces_ingest.json"))
    error = await _fail(provider)
    assert type(error) is ServerError and error.status == 500 and error.retryable
    assert error.message.startswith("The server had an error processing your request.")


async def test_recorded_plain_text_503(sim: SimulatorServer, provider: OpenAIProvider) -> None:
    sim.simulator.add(_replay(RECORDED / "errors/crewAI__503_upstream_connect_error.txt"))
    error = await _fail(provider)
    assert type(error) is ServerError and error.status == 503
    assert error.message == (
        "upstream connect error or disconnect/reset before headers. "
        "reset reason: connection termination"
    )


@pytest.mark.parametrize(
    ("name", "status", "code", "param", "start"),
    [
        (
            "crewAI__400_unsupported_parameter.json",
            400,
            "unsupported_parameter",
            "stop",
            "Unsupported parameter: 'stop'",
        ),
        (
            "crewAI__404_model_not_found.json",
            404,
            "model_not_found",
            None,
            "The model `non-existent-model` does not exist",
        ),
        (
            "openinference__401_invalid_api_key.json",
            401,
            "invalid_api_key",
            None,
            "Incorrect API key provided",
        ),
    ],
)
async def test_recorded_client_errors_are_not_retryable(
    sim: SimulatorServer,
    provider: OpenAIProvider,
    name: str,
    status: int,
    code: str,
    param: str | None,
    start: str,
) -> None:
    sim.simulator.add(_replay(RECORDED / "errors" / name))
    error = await _fail(provider)
    assert isinstance(error, ClientRequestError) and not error.retryable
    assert (error.status, error.code, error.param) == (status, code, param)
    assert error.message.startswith(start)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_scripted_client_errors(
    sim: SimulatorServer, provider: OpenAIProvider, status: int
) -> None:
    sim.simulator.add({"status": status, "error_message": f"scripted {status}"})
    error = await _fail(provider)
    assert isinstance(error, ClientRequestError)
    assert (error.status, error.message) == (status, f"scripted {status}")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_scripted_server_errors(
    sim: SimulatorServer, provider: OpenAIProvider, status: int
) -> None:
    sim.simulator.add({"status": status})
    error = await _fail(provider)
    assert type(error) is ServerError and error.status == status


async def test_retry_after_ms_wins(sim: SimulatorServer, provider: OpenAIProvider) -> None:
    sim.simulator.add({"status": 429, "headers": {"retry-after": "3", "retry-after-ms": "250"}})
    error = await _fail(provider)
    assert isinstance(error, RateLimitedError) and error.retry_after == 0.25


async def test_429_without_retry_after(sim: SimulatorServer, provider: OpenAIProvider) -> None:
    sim.simulator.add({"status": 429})
    error = await _fail(provider)
    assert isinstance(error, RateLimitedError) and error.retry_after is None


async def test_content_filter_finish(sim: SimulatorServer, provider: OpenAIProvider) -> None:
    sim.simulator.add({"fault": "content_filter"})
    error = await _fail(provider)
    assert isinstance(error, ContentFilteredError) and not error.retryable


async def test_content_filter_400(sim: SimulatorServer, provider: OpenAIProvider) -> None:
    sim.simulator.add({"status": 400, "error_code": "content_filter", "error_message": "filtered"})
    assert isinstance(await _fail(provider), ContentFilteredError)


async def test_stall_mid_stream_times_out(sim: SimulatorServer, provider: OpenAIProvider) -> None:
    sim.simulator.add({"fault": "stall", "stall_s": 5, "fault_after_chunks": 3})
    error = await _fail(provider)
    assert isinstance(error, ProviderTimeoutError)
    (record,) = sim.simulator.wait_until_settled()
    assert record.hung_up and record.chunks_sent == 3


async def test_slow_first_token_times_out(sim: SimulatorServer, provider: OpenAIProvider) -> None:
    sim.simulator.add({"first_token_delay_s": 5})
    assert isinstance(await _fail(provider), ProviderTimeoutError)


@pytest.mark.parametrize("fault", ["cut", "drop"])
async def test_stream_cut_mid_way_is_not_a_clean_end(
    sim: SimulatorServer, provider: OpenAIProvider, fault: str
) -> None:
    sim.simulator.add({"fault": fault, "fault_after_chunks": 5})
    error = await _fail(provider)
    assert isinstance(error, StreamInterruptedError) and error.retryable
    (record,) = sim.simulator.wait_until_settled()
    assert record.chunks_sent == 5 and record.outcome == {"cut": "cut", "drop": "dropped"}[fault]


async def test_error_envelope_mid_stream(sim: SimulatorServer, provider: OpenAIProvider) -> None:
    body = (
        'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":'
        '[{"index":0,"delta":{"content":"hi"},"logprobs":null,"finish_reason":null}]}\n\n'
        'data: {"error":{"message":"The server had an error while processing your request.",'
        '"type":"server_error","param":null,"code":null}}\n\n'
    )
    sim.simulator.add({"body": body})
    error = await _fail(provider)
    assert type(error) is ServerError
    assert error.message == "The server had an error while processing your request."


async def test_unreadable_chunk(sim: SimulatorServer, provider: OpenAIProvider) -> None:
    sim.simulator.add({"body": "data: {not json\n\n"})
    assert type(await _fail(provider)) is ServerError


async def test_connection_refused() -> None:
    provider = OpenAIProvider(api_key="k", base_url=f"http://127.0.0.1:{free_port()}/v1")
    error = await _fail(provider)
    assert type(error) is ProviderConnectionError and error.retryable
    await provider.aclose()


async def test_closing_the_stream_hangs_up_upstream(
    sim: SimulatorServer, provider: OpenAIProvider
) -> None:
    # The upstream waits after a few chunks for as long as the test runs: only the
    # provider closing the stream can end it.
    sim.simulator.add({"hold_after_chunks": 4})
    out = OutputSpec("json_schema", "ActionPlan", {"type": "object", "properties": {}})
    async with aclosing(provider.stream(request(output=out))) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                break
    (record,) = sim.simulator.wait_until_settled()
    assert record.hung_up
    assert 0 < record.chunks_sent < record.chunks_total
