"""Output models for parser tests: the reference ones and one that uses every schema feature."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bff.demo.action_plan import ActionPlan
from bff.demo.ticket import TicketSummary


class Color(StrEnum):
    RED = "red"
    GREEN = "green"


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: float = Field(ge=-1e6, le=1e6)
    y: float = Field(ge=-1e6, le=1e6)
    label: Annotated[str, Field(max_length=12)] | None = None


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["polygon", "line"]
    color: Color
    points: list[Point] = Field(min_length=1, max_length=6)
    closed: bool
    tags: dict[str, int] = {}


class Drawing(BaseModel):
    """Nested models, optionals, enums, literals, floats, dicts and nested arrays."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=30)
    shapes: list[Shape] = Field(max_length=5)
    grid: list[list[int]] = Field(default_factory=list, max_length=3)
    note: str | None = None
    scale: Annotated[int, Field(ge=1, le=100)] | None = None


MODELS: tuple[type[BaseModel], ...] = (ActionPlan, TicketSummary, Drawing)
