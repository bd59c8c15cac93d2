"""Resolve model routes to providers: one provider (and one HTTP client) per endpoint.

This is where the demo provider is given the demo model's answers: the one place
outside the entry points that knows the sample app in ``bff.demo``.
"""

from __future__ import annotations

from bff.config import Settings
from bff.demo.model import DEMO_ANSWERS
from bff.providers.base import Provider
from bff.providers.demo import DemoProvider, FaultProfile
from bff.providers.openai import OpenAIProvider, Timeouts
from bff.routes import Route


class ProviderRegistry:
    """Builds each endpoint's provider on first use and reuses it for every request."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._providers: dict[str, Provider] = {}

    def get(self, route: Route) -> Provider:
        provider = self._providers.get(route.provider)
        if provider is None:
            provider = self._providers[route.provider] = self._build(route.provider)
        return provider

    def demo(self) -> DemoProvider:
        """The offline demo provider (one for every demo route)."""
        provider = self.get(Route("demo", "heuristic"))
        assert isinstance(provider, DemoProvider)
        return provider

    def _build(self, name: str) -> Provider:
        s = self._settings
        if name == "demo":
            faults = FaultProfile(s.demo_fault_rate, tuple(s.demo_fault_kinds), s.demo_fault_seed)
            return DemoProvider(DEMO_ANSWERS, chunk_delay=s.demo_chunk_delay_s, faults=faults)
        endpoint = s.endpoint(name)
        return OpenAIProvider(
            api_key=endpoint.api_key,
            base_url=endpoint.base_url,
            timeouts=Timeouts(connect=s.connect_timeout_s, read=s.read_timeout_s),
            max_tokens_field=endpoint.max_tokens_field,
        )

    async def aclose(self) -> None:
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()
