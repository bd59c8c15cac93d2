"""The tool-using reference task on the offline demo model: lookup, then answer."""

from __future__ import annotations

import json

import pytest

from bff.config import Settings
from bff.demo.countries import brief_country, country_query, lookup_country
from bff.demo.tasks import BRIEF_COUNTRY, TextInput
from bff.pipeline import Pipeline
from bff.providers.registry import ProviderRegistry
from bff.run import Completed


def test_the_query_names_the_country_the_text_mentions_first() -> None:
    assert country_query("Flights from south korea to Japan?").name == "South Korea"
    assert country_query("Tell me about Atlantis please").name == "Atlantis"
    assert country_query("???").name == "???"


def test_the_brief_comes_from_the_last_lookup_result() -> None:
    result = json.dumps(lookup_country(country_query("Kenya")))
    brief = brief_country("anything", ["not json", result])
    assert (brief.country, brief.currency, brief.calling_code) == ("Kenya", "KES", "+254")
    missing = brief_country("Where is Atlantis?")
    assert missing.country is None and "no country" in missing.summary


@pytest.mark.anyio
async def test_the_demo_model_calls_the_tool_before_it_answers() -> None:
    settings = Settings(demo_chunk_delay_s=0)
    registry = ProviderRegistry(settings)
    outcome = await Pipeline(registry.get, settings).execute(
        BRIEF_COUNTRY, TextInput(text="What is the capital of Norway?")
    )
    assert isinstance(outcome, Completed)
    assert outcome.output.model_dump()["capital"] == "Oslo"
    assert (outcome.meta.tool_calls, outcome.meta.attempts, outcome.meta.route) == (
        1,
        1,
        "demo/heuristic",
    )
