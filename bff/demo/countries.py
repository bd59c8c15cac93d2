"""The tool-using reference task's parts: a bundled table of countries, the lookup tool
the model may call, the output model, and the demo model's heuristics for both turns."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

from bff.tools import Tool

SUMMARY_MAX = 200


class CountryQuery(BaseModel):
    """The arguments of ``lookup_country``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60, description="The country's English name.")


class CountryBrief(BaseModel):
    """Facts about the country a question is about, as the bundled table has them."""

    model_config = ConfigDict(extra="forbid")

    country: str | None = Field(
        max_length=60, description="The country's name; null when the table has no match."
    )
    capital: str | None = Field(max_length=60, description="Its capital city.")
    currency: str | None = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code.")
    calling_code: str | None = Field(
        pattern=r"^\+[0-9]{1,4}$", description="International dialling prefix."
    )
    summary: str = Field(
        min_length=1, max_length=SUMMARY_MAX, description="One sentence answering the question."
    )


@cache
def table() -> dict[str, dict[str, str]]:
    """The bundled rows, by lower-case country name."""
    text = resources.files("bff.demo").joinpath("data/countries.csv").read_text("utf-8")
    return {row["name"].lower(): row for row in csv.DictReader(io.StringIO(text))}


def lookup_country(query: CountryQuery) -> dict[str, object]:
    """The tool: the row for a country name, or the names the table knows."""
    row = table().get(query.name.strip().lower())
    if row is None:
        return {"found": False, "known": [r["name"] for r in table().values()]}
    return {"found": True, **row}


LOOKUP_COUNTRY: Tool[CountryQuery] = Tool(
    name="lookup_country",
    description="Look up a country's capital, currency and calling code by its English name.",
    args_model=CountryQuery,
    function=lookup_country,
)


def country_query(text: str) -> CountryQuery:
    """The demo model's tool call: the first table country the text names, or its last
    capitalised words."""
    lowered = text.lower()
    found = [name for name in table() if re.search(rf"\b{re.escape(name)}\b", lowered)]
    if found:
        first = min(found, key=lowered.index)
        return CountryQuery(name=table()[first]["name"])
    words = re.findall(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)*", text)
    return CountryQuery(name=(words[-1] if words else text.strip() or "unknown")[:60])


def brief_country(text: str, tool_results: Sequence[str] = ()) -> CountryBrief:
    """The answer from the last lookup result, or from a lookup of its own without one
    (the safe response)."""
    result: object = None
    for raw in reversed(tool_results):
        try:
            result = json.loads(raw)
            break
        except ValueError:
            continue
    if not isinstance(result, dict):
        result = lookup_country(country_query(text))
    if not result.get("found"):
        return CountryBrief(
            country=None,
            capital=None,
            currency=None,
            calling_code=None,
            summary="The bundled table has no country matching the question.",
        )
    name = str(result["name"])
    return CountryBrief(
        country=name,
        capital=str(result["capital"]),
        currency=str(result["currency"]),
        calling_code=str(result["calling_code"]),
        summary=(
            f"{name}'s capital is {result['capital']}; it pays in {result['currency']} "
            f"and its calling code is {result['calling_code']}."
        )[:SUMMARY_MAX],
    )
