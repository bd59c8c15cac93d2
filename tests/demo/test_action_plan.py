from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bff.demo.action_plan import MAX_ACTIONS, ActionPlan, extract_action_plan
from bff.demo.model import demo_output, instance_from_schema
from bff.faults import chunk_text
from bff.providers._types import OutputSpec


def test_finds_imperatives_and_cues_with_priorities() -> None:
    text = (
        "Thanks for the call. We need to renew the TLS certificate today, it is urgent!\n"
        "- Email the vendor about the invoice by Friday\n"
        "- Someday, clean up the wiki\n"
        "The weather was nice. Review the Q3 budget next week."
    )
    plan = extract_action_plan(text)
    assert [(a.action_type, a.priority) for a in plan.actions] == [
        ("renew", 1),
        ("email", 2),
        ("review", 4),
        ("clean", 5),
    ]
    assert plan.actions[0].summary == "Renew the TLS certificate today, it is urgent"


def test_no_actions_in_plain_prose() -> None:
    assert extract_action_plan("The sky was grey and the coffee was warm.").actions == []


def test_long_sentences_are_cut_at_a_word() -> None:
    plan = extract_action_plan("Write " + "very " * 60 + "long report.")
    (action,) = plan.actions
    assert len(action.summary) <= 120 and action.summary.endswith("\u2026")


def test_at_most_twenty_actions() -> None:
    text = "\n".join(f"Call customer number {i}." for i in range(40))
    assert len(extract_action_plan(text).actions) == MAX_ACTIONS


@settings(max_examples=200)
@given(st.text())
def test_any_text_gives_a_valid_plan(text: str) -> None:
    plan = extract_action_plan(text)
    assert ActionPlan.model_validate_json(plan.model_dump_json()) == plan


@given(st.text(min_size=1))
def test_chunks_rejoin_to_the_text(text: str) -> None:
    pieces = chunk_text(text)
    assert "".join(pieces) == text
    assert all(1 <= len(p) <= 6 for p in pieces)


def test_unknown_schemas_get_a_minimal_valid_instance() -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 3},
            "level": {"type": "integer", "minimum": 2},
            "kind": {"enum": ["a", "b"]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "extra": {"type": "string"},
        },
        "required": ["title", "level", "kind", "tags"],
    }
    assert instance_from_schema(schema) == {"title": "xxx", "level": 2, "kind": "a", "tags": ["x"]}
    out = demo_output("anything", OutputSpec("json_schema", "Custom", schema))
    assert json.loads(out)["level"] == 2
