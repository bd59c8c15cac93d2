from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bff.demo.countries import LOOKUP_COUNTRY
from bff.demo.tasks import EXTRACT_ACTION_PLAN, SUMMARIZE_TICKET, TextInput, reference_tasks
from bff.exceptions import ConfigError
from bff.tasks import Task, TaskRegistry, load_tasks


def test_reference_tasks() -> None:
    tasks = reference_tasks()
    assert [t.name for t in tasks] == [
        "extractActionPlan",
        "summarizeTicket",
        "briefCountry",
        "answerFromDocs",
    ]
    assert "extractActionPlan" in tasks and len(tasks) == 4
    assert tasks.get("nope") is None


def test_messages_render_the_input() -> None:
    system, user = EXTRACT_ACTION_PLAN.messages(TextInput(text="Call Bob."))
    assert system.role == "system" and "action items" in (system.content or "")
    assert (user.role, user.content) == ("user", "Call Bob.")
    assert "JSON schema" not in (system.content or "")
    json_object = replace(EXTRACT_ACTION_PLAN, output_mode="json_object")
    system, _ = json_object.messages(TextInput(text="x"))
    assert '"title":"ActionPlan"' in (system.content or "")


def test_output_spec() -> None:
    spec = SUMMARIZE_TICKET.output
    assert (spec.mode, spec.name) == ("json_schema", "TicketSummary")
    assert spec.schema is not None and spec.schema["title"] == "TicketSummary"
    assert spec.description is not None and spec.description.startswith("A support ticket")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Extract"}, "lowerCamelCase"),
        ({"name": "extract-plan"}, "lowerCamelCase"),
        ({"output_mode": "text"}, "output mode"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"route": "nope"}, "provider/model"),
        ({"token_budget": 0}, "token_budget"),
        ({"max_tool_depth": -1}, "max_tool_depth"),
        ({"tools": (LOOKUP_COUNTRY, LOOKUP_COUNTRY)}, "two tools share a name"),
        ({"tools": (LOOKUP_COUNTRY,), "output_mode": "tools"}, "tools need output mode"),
    ],
)
def test_bad_task_definitions(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(EXTRACT_ACTION_PLAN, **changes)  # type: ignore[arg-type]


def test_duplicate_names() -> None:
    with pytest.raises(ValueError, match="two tasks are named 'extractActionPlan'"):
        TaskRegistry([EXTRACT_ACTION_PLAN, EXTRACT_ACTION_PLAN])


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "my_tasks.py").write_text(
        "from bff.demo.tasks import EXTRACT_ACTION_PLAN, SUMMARIZE_TICKET\n"
        "from bff.tasks import TaskRegistry\n"
        "ONE = EXTRACT_ACTION_PLAN\n"
        "LIST = [EXTRACT_ACTION_PLAN, SUMMARIZE_TICKET]\n"
        "REGISTRY = TaskRegistry(LIST)\n"
        "def build():\n    return LIST\n"
        "DUPES = [ONE, ONE]\n"
        "NOT_TASKS = [1, 2]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_tasks"
    sys.modules.pop("my_tasks", None)


@pytest.mark.parametrize(
    ("attr", "count"), [("ONE", 1), ("LIST", 2), ("REGISTRY", 2), ("build", 2)]
)
def test_load_tasks(user_module: str, attr: str, count: int) -> None:
    tasks = load_tasks(f"{user_module}:{attr}")
    assert len(tasks) == count and all(isinstance(t, Task) for t in tasks)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("my_tasks", "not of the form module:attribute"),
        ("no_such_module_xyz:TASKS", "cannot import 'no_such_module_xyz'"),
        ("my_tasks:MISSING", "has no attribute 'MISSING'"),
        ("my_tasks:NOT_TASKS", "is not a Task"),
        ("my_tasks:DUPES", "two tasks are named"),
    ],
)
def test_load_tasks_errors(user_module: str, spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_tasks(spec)
    assert caught.value.setting == "--tasks"
