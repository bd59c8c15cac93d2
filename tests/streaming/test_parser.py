from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bff.demo.action_plan import ActionPlan
from bff.exceptions import (
    MalformedOutputError,
    OutputValidationError,
    SchemaViolationError,
    TruncatedOutputError,
)
from bff.streaming.parser import JsonStreamParser
from bff.streaming.schema import compile_model

PLAN = '{"actions":[{"action_type":"call","priority":1,"summary":"Call Bob"}]}'


def _feed(model: type[BaseModel], text: str, size: int = 3, **options: Any) -> BaseModel:
    parser = JsonStreamParser(compile_model(model), **options)
    for start in range(0, len(text), size):
        parser.feed(text[start : start + size])
    return parser.close()


@pytest.mark.parametrize(
    "text",
    [
        "  \n" + PLAN,
        "```json\n" + PLAN + "\n```",
        "```\n" + PLAN + "\n```\n",
        PLAN + "\n\n",
    ],
)
def test_tolerated_wrappers(text: str) -> None:
    assert _feed(ActionPlan, text) == ActionPlan.model_validate_json(PLAN)


def test_preamble_only_when_allowed() -> None:
    text = "Sure! Here is the plan:\n" + PLAN
    assert _feed(ActionPlan, text, allow_preamble=True).actions[0].summary == "Call Bob"  # type: ignore[attr-defined]
    with pytest.raises(MalformedOutputError, match="text before the JSON object: 'Sur'"):
        _feed(ActionPlan, text)


def test_preamble_has_a_limit() -> None:
    with pytest.raises(MalformedOutputError, match="first 500 characters"):
        _feed(ActionPlan, "blah " * 200 + PLAN, allow_preamble=True)


def test_preamble_is_rejected_as_soon_as_it_shows() -> None:
    parser = JsonStreamParser(compile_model(ActionPlan))
    parser.feed("``")
    parser.feed("`json\n")
    with pytest.raises(MalformedOutputError):
        parser.feed("Here")


@pytest.mark.parametrize("trailing", [" I hope this helps!", "\n```\nDone.", "{}"])
def test_trailing_text_is_an_error(trailing: str) -> None:
    with pytest.raises(MalformedOutputError, match="text after the JSON object"):
        _feed(ActionPlan, PLAN + trailing)
    with pytest.raises(MalformedOutputError, match="text after the JSON object"):
        _feed(ActionPlan, PLAN + trailing, size=len(PLAN) + len(trailing))


def test_truncation_and_emptiness() -> None:
    with pytest.raises(TruncatedOutputError, match="before it closed"):
        _feed(ActionPlan, PLAN[:-1])
    with pytest.raises(TruncatedOutputError, match="no JSON object"):
        _feed(ActionPlan, "  ")
    with pytest.raises(MalformedOutputError, match="no JSON object in the output"):
        _feed(ActionPlan, "hmm", allow_preamble=True)


def test_malformed_json() -> None:
    with pytest.raises(MalformedOutputError, match="invalid JSON"):
        _feed(ActionPlan, PLAN[:-2] + ",}")


def test_root_must_be_an_object() -> None:
    with pytest.raises(SchemaViolationError, match="expected an object, got an array"):
        _feed(ActionPlan, "[]")


class Tagged(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["a", "b"]
    level: Annotated[int, Field(gt=0, lt=10)] | None = None
    ratio: float = Field(default=0.5, ge=0, le=1)
    code: str = Field(default="AA", pattern=r"^[A-Z]{2}$")
    counts: dict[str, int] = {}
    anything: Any = None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"kind":"c"}', "'c' is not one of 'a', 'b'"),
        ('{"kind":"a","level":0}', "0 is not more than 0"),
        ('{"kind":"a","level":10}', "10 is not less than 10"),
        ('{"kind":"a","level":"x"}', "expected integer or null, got a string"),
        ('{"kind":"a","ratio":1.5}', "1.5 is more than the maximum 1"),
        ('{"kind":"a","ratio":true}', "expected number, got a boolean"),
        ('{"kind":"a","code":"abc"}', "does not match"),
        ('{"kind":"a","counts":{"x":"1"}}', "expected integer, got a string"),
        ('{"kind":"a","counts":[]}', "expected object, got an array"),
    ],
)
def test_schema_features(text: str, problem: str) -> None:
    with pytest.raises(SchemaViolationError) as caught:
        _feed(Tagged, text)
    assert problem in caught.value.problem


def test_unconstrained_values_pass() -> None:
    text = '{"kind":"b","level":null,"ratio":1,"counts":{"x":1},"anything":{"deep":[1,{"a":null}]}}'
    assert _feed(Tagged, text) == Tagged.model_validate_json(text)


class Node(BaseModel):
    name: str = Field(max_length=5)
    children: list[Node] = []


def test_recursive_models() -> None:
    text = '{"name":"a","children":[{"name":"b","children":[{"name":"c"}]}]}'
    assert _feed(Node, text) == Node.model_validate_json(text)
    with pytest.raises(SchemaViolationError, match="children"):
        _feed(Node, '{"name":"a","children":[{"name":"b","children":[{"name":"toolong"}]}]}')


class Cat(BaseModel):
    meow: str


class Dog(BaseModel):
    bark: str


class Pet(BaseModel):
    pet: Cat | Dog


def test_ambiguous_unions_are_left_to_pydantic() -> None:
    assert _feed(Pet, '{"pet":{"bark":"woof"}}') == Pet(pet=Dog(bark="woof"))
    with pytest.raises(OutputValidationError):
        _feed(Pet, '{"pet":{"moo":"x"}}')


class Shouty(BaseModel):
    word: str

    @field_validator("word")
    @classmethod
    def _upper(cls, value: str) -> str:
        if value != value.upper():
            raise ValueError("must be upper case")
        return value


class Shouts(BaseModel):
    items: list[Shouty]


def test_each_item_is_validated_when_it_closes() -> None:
    parser = JsonStreamParser(compile_model(Shouts))
    parser.feed('{"items":[{"word":"HEY"},')
    assert parser.items_validated == 1
    with pytest.raises(OutputValidationError) as caught:
        parser.feed('{"word":"psst"}')
    assert caught.value.errors == ["items[1].word: Value error, must be upper case"]
