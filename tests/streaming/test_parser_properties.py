"""Property tests: any valid document, cut anywhere, parses to what Pydantic parses."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from bff.demo.action_plan import ActionPlan
from bff.exceptions import OutputError, SchemaViolationError, TruncatedOutputError
from bff.streaming.parser import JsonStreamParser
from bff.streaming.schema import compile_model
from tests.streaming.models import MODELS

COMPILED = {model: compile_model(model) for model in MODELS}


def _serialise(instance: BaseModel, style: int) -> str:
    data = instance.model_dump(mode="json")
    if style == 0:
        return instance.model_dump_json()
    if style == 1:
        return json.dumps(data, ensure_ascii=False)
    if style == 2:
        return json.dumps(data, indent=2)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _text(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(min_size=min_size, max_size=max_size)


ACTION = st.fixed_dictionaries(
    {"action_type": _text(1, 40), "priority": st.integers(1, 5), "summary": _text(0, 120)}
)
PLAN = st.fixed_dictionaries({"actions": st.lists(ACTION, max_size=20)})
TICKET = st.fixed_dictionaries(
    {
        "headline": _text(1, 60),
        "sentiment": st.sampled_from(["positive", "neutral", "negative"]),
        "category": st.sampled_from(["billing", "bug", "feature_request", "account", "other"]),
        "urgent": st.booleans(),
        "key_points": st.lists(_text(0, 80), max_size=3),
    }
)
COORD = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
POINT = st.fixed_dictionaries(
    {"x": COORD, "y": COORD}, optional={"label": st.none() | _text(0, 12)}
)
SHAPE = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["polygon", "line"]),
        "color": st.sampled_from(["red", "green"]),
        "points": st.lists(POINT, min_size=1, max_size=6),
        "closed": st.booleans(),
    },
    optional={"tags": st.dictionaries(_text(0, 8), st.integers(-(2**40), 2**40), max_size=3)},
)
DRAWING = st.fixed_dictionaries(
    {"title": _text(1, 30), "shapes": st.lists(SHAPE, max_size=5)},
    optional={
        "grid": st.lists(st.lists(st.integers(-5, 5), max_size=4), max_size=3),
        "note": st.none() | _text(),
        "scale": st.none() | st.integers(1, 100),
    },
)
STRATEGIES = dict(zip(MODELS, (PLAN, TICKET, DRAWING), strict=True))


@st.composite
def documents(draw: st.DrawFn) -> tuple[type[BaseModel], str]:
    model = draw(st.sampled_from(MODELS))
    instance = model.model_validate(draw(STRATEGIES[model]))
    return model, _serialise(instance, draw(st.integers(0, 3)))


def _cut(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points) if b > a]


def _parse(model: type[BaseModel], chunks: list[str]) -> BaseModel:
    parser = JsonStreamParser(COMPILED[model])
    for chunk in chunks:
        parser.feed(chunk)
    return parser.close()


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(documents(), st.lists(st.integers(min_value=0), max_size=40))
def test_any_cut_parses_to_what_pydantic_parses(
    doc: tuple[type[BaseModel], str], cuts: list[int]
) -> None:
    model, text = doc
    assert _parse(model, _cut(text, cuts)) == model.model_validate_json(text)


@SETTINGS
@given(documents())
def test_single_characters_and_whole_document(doc: tuple[type[BaseModel], str]) -> None:
    model, text = doc
    expected = model.model_validate_json(text)
    assert _parse(model, list(text)) == expected
    assert _parse(model, [text]) == expected


@SETTINGS
@given(documents(), st.data())
def test_every_strict_prefix_is_truncated(
    doc: tuple[type[BaseModel], str], data: st.DataObject
) -> None:
    model, text = doc
    end = data.draw(st.integers(min_value=0, max_value=len(text.rstrip()) - 1))
    parser = JsonStreamParser(COMPILED[model])
    for chunk in _cut(text[:end], data.draw(st.lists(st.integers(min_value=0), max_size=10))):
        parser.feed(chunk)
    with pytest.raises(TruncatedOutputError):
        parser.close()


def _item(i: int) -> str:
    return f'{{"action_type":"call","priority":{i % 5 + 1},"summary":"Call customer {i}"}}'


# A broken item, and the text whose last character completes the bad token: the
# parser can only see a token once that character has arrived.
VIOLATIONS = {
    "unknown key": ('{"action_type":"call","bogus":1,"priority":1,"summary":"s"}', '"bogus"'),
    "out of range": ('{"action_type":"call","priority":9,"summary":"s"}', "9,"),
    "too long": ('{"action_type":"call","priority":1,"summary":"' + "x" * 130 + '"}', 'x"'),
    "wrong type": ('{"action_type":"call","priority":"high","summary":"s"}', '"high"'),
    "empty type": ('{"action_type":"","priority":1,"summary":"s"}', '""'),
}


@SETTINGS
@given(
    st.integers(min_value=1, max_value=15),
    st.data(),
    st.sampled_from(sorted(VIOLATIONS)),
    st.lists(st.integers(min_value=0), max_size=60),
)
def test_a_violation_is_detected_in_the_chunk_that_completes_it(
    n: int, data: st.DataObject, kind: str, cuts: list[int]
) -> None:
    k = data.draw(st.integers(min_value=0, max_value=n - 1))
    broken, token = VIOLATIONS[kind]
    items = [broken if i == k else _item(i) for i in range(n)]
    text = '{"actions":[' + ",".join(items) + "]}"
    item_at = len('{"actions":[') + sum(len(item) + 1 for item in items[:k])
    detect_at = item_at + broken.index(token) + len(token) - 1
    parser = JsonStreamParser(compile_model(ActionPlan))
    consumed = 0
    with pytest.raises(SchemaViolationError) as caught:
        for chunk in _cut(text, cuts):
            consumed += len(chunk)
            parser.feed(chunk)
    # the chunk that raised is the one holding the token's last character
    assert consumed - len(chunk) <= detect_at < consumed
    assert caught.value.path.startswith(f"actions[{k}]")
    assert parser.items_validated == k


def test_violation_paths_and_messages() -> None:
    root = compile_model(ActionPlan)
    cases = {
        '{"actions":[{"action_type":"call","priority":1,"summary":"s","x":1}]}': (
            "actions[0].x",
            "unknown key 'x'",
        ),
        '{"actions":[{"action_type":"call","priority":0,"summary":"s"}]}': (
            "actions[0].priority",
            "0 is less than the minimum 1",
        ),
        '{"actions":{}}': ("actions", "expected array, got an object"),
        '{"actions":[{"action_type":"call","summary":"s"}]}': (
            "actions[0].priority",
            "required key missing",
        ),
        "{}": ("actions", "required key missing"),
    }
    for text, (path, problem) in cases.items():
        parser = JsonStreamParser(root)
        with pytest.raises(SchemaViolationError) as caught:
            parser.feed(text)
        assert (caught.value.path, caught.value.problem) == (path, problem), text


def test_errors_are_output_errors() -> None:
    parser = JsonStreamParser(compile_model(ActionPlan))
    with pytest.raises(OutputError):
        parser.feed('{"actions": [}')
