from __future__ import annotations

import httpx
import pytest

from bff.app import create_app
from bff.config import Settings
from bff.providers.demo import DemoProvider
from bff.providers.openai import OpenAIProvider
from bff.providers.registry import ProviderRegistry
from bff.routes import parse_route
from bff.testing.server import ServerThread


def test_healthz_over_http() -> None:
    settings = Settings(model="demo/heuristic", fallback_models=["demo/other"])
    with ServerThread(create_app(settings)) as server:
        response = httpx.get(f"{server.url}/healthz")
        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "version": "0.1.0",
            "model": "demo/heuristic",
            "fallbackModels": ["demo/other"],
            "tasks": ["extractActionPlan", "summarizeTicket", "briefCountry", "answerFromDocs"],
        }
        assert httpx.post(f"{server.url}/healthz").status_code == 405
        assert httpx.get(f"{server.url}/nope").status_code == 404


@pytest.mark.anyio
async def test_registry_shares_one_provider_per_endpoint() -> None:
    settings = Settings(
        openai_api_key="sk-x",
        endpoints={"local": {"base_url": "http://127.0.0.1:1/v1"}},  # type: ignore[dict-item]
        demo_chunk_delay_s=0.5,
    )
    registry = ProviderRegistry(settings)
    demo = registry.get(parse_route("demo/heuristic"))
    assert isinstance(demo, DemoProvider) and demo.chunk_delay == 0.5
    assert registry.get(parse_route("demo/other")) is demo
    openai = registry.get(parse_route("openai/gpt-4o"))
    assert isinstance(openai, OpenAIProvider)
    assert registry.get(parse_route("openai/gpt-4o-mini")) is openai
    local = registry.get(parse_route("local/llama3"))
    assert isinstance(local, OpenAIProvider) and local.base_url == "http://127.0.0.1:1/v1/"
    await registry.aclose()
    assert registry.get(parse_route("openai/gpt-4o")) is not openai
    await registry.aclose()
