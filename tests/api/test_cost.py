"""OperationCost on a small schema: tasks, aliases, depth and tokens refused before validation."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import pytest
import strawberry
import strawberry.schema.schema as strawberry_schema
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from bff.api.cost import SATURATION, Cost, OperationCost, OperationLimits, operation_costs
from bff.api.operations import load_operations
from bff.api.verdicts import Verdicts
from graphql import get_introspection_query, parse

OPERATIONS = Path(__file__).parents[2] / "graphql" / "operations"
TASKS = frozenset({"taskA", "taskB", "sub"})
DEFAULTS = OperationLimits()
ROOMY = OperationLimits(max_tokens=100_000)
"""The default limits, except a token budget big enough to reach the later checks."""


def _calls(info: strawberry.Info) -> list[str]:
    calls: list[str] = info.context["calls"]
    return calls


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def child(self) -> Item:
        return Item(name=self.name + "+")


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "hi"

    @strawberry.field
    def item(self) -> Item:
        return Item(name="i")


@strawberry.type
class Mutation:
    @strawberry.mutation
    def task_a(self, info: strawberry.Info) -> str:
        _calls(info).append("taskA")
        return "a"

    @strawberry.mutation
    def task_b(self, info: strawberry.Info) -> str:
        _calls(info).append("taskB")
        return "b"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def sub(self, info: strawberry.Info) -> AsyncGenerator[int, None]:
        _calls(info).append("sub")
        yield 1


def _schema(limits: OperationLimits = DEFAULTS) -> strawberry.Schema:
    verdicts = Verdicts()
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[lambda: OperationCost(limits, TASKS, verdicts)],
    )


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Each run of strawberry's standard validation, recorded."""
    runs: list[object] = []
    validate = strawberry_schema.validate_document

    def recording(*args: Any) -> Any:
        runs.append(args[1])
        return validate(*args)

    monkeypatch.setattr(strawberry_schema, "validate_document", recording)
    yield runs


async def _execute(
    query: str, limits: OperationLimits = DEFAULTS, **options: Any
) -> tuple[ExecutionResult, list[str]]:
    calls: list[str] = []
    result = await _schema(limits).execute(query, context_value={"calls": calls}, **options)
    return result, calls


def _refusal(result: ExecutionResult) -> tuple[str, str]:
    assert result.data is None
    assert result.errors is not None
    (error,) = result.errors
    assert error.extensions is not None
    return error.extensions["code"], error.message


def _aliases(count: int, field: str = "hello") -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"


def _doubling_chain(levels: int, bottom: str, on: str = "Item") -> str:
    """F0 spreads F1 twice, F1 spreads F2 twice ... the last fragment holds ``bottom``."""
    fragments = [f"fragment F{i} on {on} {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    return "\n".join([*fragments, f"fragment F{levels} on {on} {{ {bottom} }}"])


def _nested(depth: int) -> str:
    """``{ item { child { child ... name } } }``, ``depth`` fields deep."""
    return "{ item { " + "child { " * (depth - 2) + "name" + " }" * (depth - 1) + " }"


# -- tasks ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_document_sent_again_is_parsed_and_judged_once(
    validations: list[object],
) -> None:
    schema = _schema(OperationLimits(max_aliases=1))
    for _ in range(3):
        result = await schema.execute("mutation { taskA }", context_value={"calls": []})
        assert result.errors is None and result.data == {"taskA": "a"}
    assert len(validations) == 1
    over = "{ a: item { name } b: item { name } }"
    for _ in range(2):  # a refusal is kept like a pass, and never validated
        result = await schema.execute(over, context_value={"calls": []})
        assert result.errors is not None
        assert result.errors[0].extensions == {"code": "TOO_MANY_ALIASES"}
    assert len(validations) == 1
    result = await schema.execute("mutation { taskB }", context_value={"calls": []})
    assert result.data == {"taskB": "b"} and len(validations) == 2  # another text


def test_the_kept_documents_are_bounded() -> None:
    verdicts = Verdicts(size=2)
    judged: list[str] = []
    for text in ("{ a }", "{ b }", "{ c }", "{ a }"):
        verdicts.verdict(text, (), lambda text=text: judged.append(text) or [])  # type: ignore[func-returns-value]
    assert judged == ["{ a }", "{ b }", "{ c }", "{ a }"]  # "{ a }" was evicted by "{ c }"


@pytest.mark.anyio
async def test_one_task_runs(validations: list[object]) -> None:
    result, calls = await _execute("mutation { taskA }")
    assert result.errors is None
    assert result.data == {"taskA": "a"}
    assert calls == ["taskA"]
    assert len(validations) == 1  # within limits: standard validation still runs


@pytest.mark.anyio
@pytest.mark.parametrize(
    "query",
    [
        "mutation { x: taskA y: taskA }",
        "mutation { taskA taskB }",
        "mutation { taskA taskB @skip(if: true) }",
        "mutation { taskA ...M } fragment M on Mutation { taskB }",
        "mutation { ... on Mutation { taskA } ... { taskB } }",
        "mutation { ...M ...M } fragment M on Mutation { ... on Mutation { taskA } }",
    ],
)
async def test_a_second_task_is_refused_before_any_runs(
    query: str, validations: list[object]
) -> None:
    result, calls = await _execute(query)
    assert _refusal(result) == (
        "TOO_MANY_TASKS",
        "an operation may run at most 1 task; this one runs 2",
    )
    assert calls == []
    assert validations == []


@pytest.mark.anyio
async def test_the_limit_on_tasks_is_configurable() -> None:
    result, calls = await _execute("mutation { taskA taskB }", OperationLimits(max_tasks=2))
    assert result.data == {"taskA": "a", "taskB": "b"}
    assert calls == ["taskA", "taskB"]
    result, calls = await _execute("mutation { taskA taskB taskA }", OperationLimits(max_tasks=2))
    assert _refusal(result)[1] == "an operation may run at most 2 tasks; this one runs 3"
    assert calls == []


@pytest.mark.anyio
async def test_a_refused_subscription_never_starts(validations: list[object]) -> None:
    calls: list[str] = []
    results = await _schema().subscribe(
        "subscription { a: sub b: sub }", context_value={"calls": calls}
    )
    assert not isinstance(results, ExecutionResult)
    frames = [frame async for frame in results]
    (frame,) = frames
    assert isinstance(frame, PreExecutionError)
    assert _refusal(frame)[0] == "TOO_MANY_TASKS"
    assert calls == []
    assert validations == []


@pytest.mark.anyio
async def test_one_subscription_streams() -> None:
    calls: list[str] = []
    results = await _schema().subscribe("subscription { sub }", context_value={"calls": calls})
    assert not isinstance(results, ExecutionResult)
    frames = [frame async for frame in results]
    assert [frame.data for frame in frames] == [{"sub": 1}]
    assert calls == ["sub"]


@pytest.mark.anyio
async def test_stream_refuses_a_mutation_too(validations: list[object]) -> None:
    # graphql-transport-ws runs every operation through Schema.stream.
    calls: list[str] = []
    results = await _schema().stream(
        "mutation { ...M } fragment M on Mutation { x: taskA y: taskA }",
        context_value={"calls": calls},
    )
    frames = [frame async for frame in results]
    (frame,) = frames
    assert isinstance(frame, PreExecutionError)
    assert _refusal(frame)[0] == "TOO_MANY_TASKS"
    assert calls == []
    assert validations == []


def test_execute_sync_refuses_too() -> None:
    calls: list[str] = []
    result = _schema().execute_sync(
        "mutation { x: taskA y: taskA }", context_value={"calls": calls}
    )
    assert _refusal(result)[0] == "TOO_MANY_TASKS"
    assert calls == []


@pytest.mark.anyio
async def test_every_operation_in_the_document_is_checked() -> None:
    two = "mutation One { taskA } mutation Two { taskB }"
    result, calls = await _execute(two, operation_name="Two")
    assert result.data == {"taskB": "b"}
    assert calls == ["taskB"]
    # Only One would run, but Two is over the limit: the document is refused.
    result, calls = await _execute(
        "mutation One { taskA } mutation Two { taskA taskB }", operation_name="One"
    )
    assert _refusal(result)[0] == "TOO_MANY_TASKS"
    assert calls == []


def test_tasks_are_root_fields_of_mutations_and_subscriptions() -> None:
    document = parse(
        "query Q { taskA taskB }"
        " mutation M { other { taskA taskB } ...F }"
        " subscription S { sub }"
        " fragment F on Mutation { taskA nested { ...F2 } }"
        " fragment F2 on Mutation { taskB }"
    )
    assert [(cost.operation, cost.tasks) for cost in operation_costs(document, TASKS)] == [
        ("Q", 0),
        ("M", 1),
        ("S", 1),
    ]


# -- aliases -------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.timeout(30)  # a hang guard: it takes about a millisecond
async def test_the_amplification_chain_is_counted_exactly_and_fast(
    validations: list[object],
) -> None:
    """2**29 aliases, the most that are counted exactly (under SATURATION): a count that
    expanded the fragments would take minutes, and the guard above would fail it."""
    query = "{ item { ...F0 } }\n" + _doubling_chain(29, "n: name")
    result, _ = await _execute(query)
    assert _refusal(result) == (
        "TOO_MANY_ALIASES",
        f"an operation may use at most 15 aliases; this one uses {2**29}",
    )
    assert validations == []


def test_multiplicities_saturate() -> None:
    (cost,) = operation_costs(parse("{ item { ...F0 } }\n" + _doubling_chain(200, "n: name")), ())
    assert cost.aliases == SATURATION
    error = DEFAULTS.check(cost)
    assert error is not None
    assert error.message.endswith(f"this one uses at least {SATURATION}")
    (cost,) = operation_costs(
        parse("mutation { ...F0 }\n" + _doubling_chain(64, "taskA", on="Mutation")), TASKS
    )
    assert cost.tasks == SATURATION


@pytest.mark.anyio
async def test_a_thousand_aliases_are_refused_without_validating(
    validations: list[object],
) -> None:
    result, _ = await _execute(_aliases(1000), ROOMY)
    assert _refusal(result) == (
        "TOO_MANY_ALIASES",
        "an operation may use at most 15 aliases; this one uses 1000",
    )
    assert validations == []


@pytest.mark.anyio
async def test_aliases_up_to_the_limit_pass() -> None:
    result, _ = await _execute(_aliases(15))
    assert result.errors is None
    assert result.data == {f"a{i}": "hi" for i in range(15)}
    result, _ = await _execute(_aliases(16))
    assert _refusal(result)[0] == "TOO_MANY_ALIASES"


# -- depth ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_nesting_up_to_the_limit_passes() -> None:
    result, _ = await _execute(_nested(DEFAULTS.max_depth))
    assert result.errors is None


@pytest.mark.anyio
async def test_nesting_over_the_limit_is_refused(validations: list[object]) -> None:
    result, _ = await _execute(_nested(DEFAULTS.max_depth + 1))
    assert _refusal(result) == (
        "TOO_DEEP",
        "an operation may nest fields at most 20 deep; this one nests them 21 deep",
    )
    assert validations == []


@pytest.mark.anyio
async def test_nesting_through_fragments_counts() -> None:
    query = (
        "{ item { ...D } }"
        " fragment D on Item { child { child { ...E } } }"
        " fragment E on Item { name }"
    )
    (cost,) = operation_costs(parse(query), TASKS)
    assert cost.depth == 4
    result, _ = await _execute(query, OperationLimits(max_depth=3))
    assert _refusal(result)[0] == "TOO_DEEP"


@pytest.mark.anyio
async def test_thousands_of_levels_give_a_clean_error() -> None:
    # graphql-core's parser is recursive: it stops at its own nesting limit with a
    # syntax error, which strawberry returns as a result rather than raising.
    for query in (_nested(3000), "{ item(x: " + "[" * 3000 + "]" * 3000 + ") { name } }"):
        result, _ = await _execute(query, ROOMY)
        assert result.data is None
        assert result.errors is not None
        (error,) = result.errors
        assert error.message == "Syntax Error: Document is nested too deeply. Parsing aborted."
        assert not isinstance(error.original_error, RecursionError)


@pytest.mark.anyio
async def test_a_long_fragment_chain_is_costed_without_recursion(
    validations: list[object],
) -> None:
    # Fragments nest beyond the parser's limit: each level is a separate definition.
    levels = 3000
    chain = [f"fragment C{i} on Item {{ child {{ ...C{i + 1} }} }}" for i in range(levels)]
    query = "{ item { ...C0 } }\n" + "\n".join([*chain, f"fragment C{levels} on Item {{ name }}"])
    result, _ = await _execute(query, ROOMY)
    assert _refusal(result) == (
        "TOO_DEEP",
        f"an operation may nest fields at most 20 deep; this one nests them {levels + 2} deep",
    )
    assert validations == []


# -- tokens --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_document_over_the_token_limit_is_refused_at_parse(
    validations: list[object],
) -> None:
    # Comments count too: each is a token.
    result, _ = await _execute("#\n" * (DEFAULTS.max_tokens - 3) + "{ hello }")
    assert result.errors is None
    for query in (
        "#\n" * (DEFAULTS.max_tokens - 2) + "{ hello }",
        "{ " + "hello " * DEFAULTS.max_tokens + "}",
    ):
        validations.clear()
        result, _ = await _execute(query)
        assert result.errors is not None
        (error,) = result.errors
        assert error.message == (
            f"Syntax Error: Document contains more than {DEFAULTS.max_tokens} tokens."
            " Parsing aborted."
        )
        assert validations == []


# -- what standard validation reports --------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "{ item { ...A } } fragment A on Item { name ...B } fragment B on Item { ...A }",
            "Cannot spread fragment 'A' within itself via 'B'.",
        ),
        (
            "{ item { ...A } } fragment A on Item { n: name ...A ...A }",
            "Cannot spread fragment 'A' within itself.",
        ),
        ("{ item { ...Nowhere } }", "Unknown fragment 'Nowhere'."),
    ],
)
async def test_cycles_and_unknown_fragments_reach_standard_validation(
    query: str, message: str, validations: list[object]
) -> None:
    result, _ = await _execute(query)
    assert result.errors is not None
    assert {error.message for error in result.errors} == {message}
    assert len(validations) == 1


def test_cycles_and_unknown_fragments_count_nothing() -> None:
    document = parse(
        "{ item { ...A ...Nowhere } }"
        " fragment A on Item { a: name ...B ...B }"
        " fragment B on Item { b: name ...A }"
    )
    # A (1 alias) + B twice (1 alias each, its spread of A closing the cycle).
    assert operation_costs(document, TASKS) == [Cost(None, 0, 3, 2)]


# -- what the BFF's clients send -------------------------------------------------------


@pytest.mark.anyio
async def test_the_introspection_query_passes_the_defaults() -> None:
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
        one_of=True,
    )
    result, _ = await _execute(query)
    assert result.errors is None
    assert result.data is not None
    (cost,) = operation_costs(parse(query, max_tokens=DEFAULTS.max_tokens), TASKS)
    assert cost == Cost("IntrospectionQuery", 0, 0, 15)


def test_every_operation_the_frontend_sends_passes_the_defaults() -> None:
    operations = load_operations(OPERATIONS)
    assert operations
    task_fields = {
        operation.field for operation in operations.values() if operation.kind != "query"
    }
    for operation in operations.values():
        document = parse(operation.document, max_tokens=DEFAULTS.max_tokens)
        (cost,) = operation_costs(document, task_fields)
        assert DEFAULTS.check(cost) is None, operation.name
        assert cost.tasks == (operation.kind != "query"), operation.name
