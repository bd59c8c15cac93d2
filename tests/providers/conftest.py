"""The OpenAI provider against the session's simulator, over loopback through the real SDK.

A test module that needs short timeouts (a stall must end in seconds) sets
``PROVIDER_TIMEOUTS``; the others get the provider's defaults.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bff.providers.openai import OpenAIProvider
from bff.testing.server import SimulatorServer


@pytest.fixture
async def provider(
    sim: SimulatorServer, request: pytest.FixtureRequest
) -> AsyncIterator[OpenAIProvider]:
    timeouts = getattr(request.module, "PROVIDER_TIMEOUTS", None)
    provider = OpenAIProvider(api_key="sk-test", base_url=sim.base_url, timeouts=timeouts)
    yield provider
    await provider.aclose()
