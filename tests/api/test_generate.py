"""GraphQL types generated from Pydantic models: every annotation kind the factory maps."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Any, Literal

import anyio
import pytest
from pydantic import BaseModel, Field

from bff.api.generate import SchemaBuildError
from bff.api.runtime import Runtime
from bff.api.schema import build_schema
from bff.config import Settings
from bff.tasks import Task, TaskRegistry


class Level(Enum):
    """How loud."""

    LOW = "low"
    HIGH = "high"


class Filter(BaseModel):
    """Narrow the search."""

    tags: list[str] = []
    level: Level = Level.LOW


class Search(BaseModel):
    query: str = Field(description="What to look for.")
    limit: int = 10
    since: datetime.date | None = None
    filters: Filter | None = None
    levels: list[Level] = []


class Hit(BaseModel):
    title: str
    score: float
    kind: Literal["page", "file"]
    mixed: Literal["a", 1] = "a"
    meta: dict[str, Any] = {}
    pair: tuple[int, str] = (1, "x")
    same: tuple[int, ...] = ()
    either: int | str = 0
    children: list[Hit] = []
    seen: datetime.datetime | None = None


class Results(BaseModel):
    """What the search found."""

    hits: list[Hit]
    level: Level


def _schema(*tasks: Task[Any, Any]) -> Any:
    return build_schema(TaskRegistry(tasks))


SEARCH = Task(
    name="search",
    description="Search.",
    input_model=Search,
    output_model=Results,
    system_prompt="Search.",
)


def test_annotations_map_to_graphql_types() -> None:
    sdl = _schema(SEARCH).as_str()
    for line in (
        'search(\n    """What to look for."""\n    query: String!\n    limit: Int! = 10',
        "since: Date = null",
        "filters: FilterInput = null",
        "levels: [Level!]\n",
        "input FilterInput {\n  tags: [String!]! = []\n  level: Level! = LOW\n}",
        '"""How loud."""\nenum Level {\n  LOW\n  HIGH\n}',
        "kind: String!",
        "mixed: JSON!",
        "meta: JSON!",
        "pair: JSON!",
        "same: [Int!]!",
        "either: JSON!",
        "children: [Hit!]!",
        "seen: DateTime",
        'type ResultsResult {\n  """The validated Results."""\n  results: Results!',
    ):
        assert line in sdl, line


def test_arguments_reach_the_input_model_and_the_demo_answers() -> None:
    schema = _schema(SEARCH)
    runtime = Runtime(Settings(demo_chunk_delay_s=0), TaskRegistry([SEARCH]))
    context = {"services": runtime.services()}
    query = """mutation {
      search(query: "q", filters: {tags: ["a"], level: HIGH}, levels: [LOW]) {
        __typename ... on ResultsResult { results { hits { title } level } meta { model } }
      }
    }"""
    result = anyio.run(lambda: schema.execute(query, context_value=context))
    assert result.errors is None
    payload = result.data["search"]
    assert payload["__typename"] == "ResultsResult"
    assert payload["results"] == {"hits": [], "level": "LOW"}
    assert payload["meta"]["model"] == "demo/heuristic"


class RunMeta(BaseModel):
    x: int


def test_reserved_and_clashing_names_are_refused() -> None:
    reserved = Task(
        name="bad", description="d", input_model=Search, output_model=RunMeta, system_prompt="s"
    )
    with pytest.raises(SchemaBuildError, match="'RunMeta' is reserved"):
        _schema(reserved)
    other = type("Results", (BaseModel,), {"__annotations__": {"x": int}})
    clash = Task(
        name="clash", description="d", input_model=Search, output_model=other, system_prompt="s"
    )
    with pytest.raises(SchemaBuildError, match="both be the GraphQL type 'Results'"):
        _schema(SEARCH, clash)
