"""Refuse expensive GraphQL operations before graphql-core's standard validation runs.

Every root field of ``Mutation`` and ``Subscription`` is an LLM-backed task that
starts paid provider calls, so one request may run at most ``max_tasks`` of them,
however they are spelled (aliases, fragment spreads, inline fragments). The other
limits protect the server itself: graphql-core's standard validation is quadratic
in places (``OverlappingFieldsCanBeMerged``), and strawberry's ``MaxAliasesLimiter``
and ``QueryDepthLimiter`` run *as* validation rules, alongside it. ``OperationCost``
instead caps the parser's token count, then costs the document in one linear pass in
``on_validate``; a refusal sets ``pre_execution_errors``, which makes strawberry skip
the standard validation altogether.

Register it with a factory, so that each request gets its own instance (strawberry
deprecates shared extension instances, whose ``execution_context`` requests would
overwrite under each other)::

    strawberry.Schema(..., extensions=[lambda: OperationCost(limits, task_fields)])
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, NamedTuple

from strawberry.extensions import SchemaExtension
from strawberry.schema import schema as strawberry_schema

from bff.api.verdicts import Verdicts
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)

SATURATION = 1_000_000_000
"""Counts stop growing here: fragments spread twice per level multiply exponentially."""

_TASK_OPERATIONS = frozenset({OperationType.MUTATION, OperationType.SUBSCRIPTION})


@dataclass(frozen=True, slots=True)
class OperationLimits:
    """What one GraphQL operation may cost.

    The defaults, measured with graphql-core 3.3.2 (fields counted at every level,
    ``__typename`` and introspection fields included; tokens as the parser counts
    them): the introspection query is 15 fields deep, 163 tokens by default and 191
    with every option of ``get_introspection_query`` on (a superset of what GraphiQL
    sends; 216 with ``type_depth=14``); the operations in ``graphql/operations/`` are at
    most 4 deep and 142 tokens (``WatchActionPlan`` with its fragments), with no
    aliases and one task each. Tokens are also what bounds the rest of standard
    validation (the same field repeated without aliases is compared pairwise): the
    worst documents found cost about 50 ms to validate at 500 tokens, 180 at 1,000.
    """

    max_tasks: int = 1
    """LLM-backed root fields (mutation or subscription) per operation."""
    max_aliases: int = 15
    max_depth: int = 20
    """Field nesting; the introspection query needs 15."""
    max_tokens: int = 500
    """Tokens per document, comments included (graphql-core's ``max_tokens``)."""

    def check(self, cost: Cost) -> GraphQLError | None:
        """The error refusing ``cost``, or None when it is within every limit."""
        if cost.tasks > self.max_tasks:
            return _refusal(
                "TOO_MANY_TASKS",
                f"an operation may run at most {_count(self.max_tasks, 'task')}; "
                f"this one runs {_amount(cost.tasks)}",
            )
        if cost.aliases > self.max_aliases:
            return _refusal(
                "TOO_MANY_ALIASES",
                f"an operation may use at most {_count(self.max_aliases, 'alias', 'aliases')}; "
                f"this one uses {_amount(cost.aliases)}",
            )
        if cost.depth > self.max_depth:
            return _refusal(
                "TOO_DEEP",
                f"an operation may nest fields at most {self.max_depth} deep; "
                f"this one nests them {_amount(cost.depth)} deep",
            )
        return None


@dataclass(frozen=True, slots=True)
class Cost:
    """What one operation of a document costs, with its fragments expanded.

    Counts are with multiplicity (a fragment spread three times counts three
    times) and saturate at ``SATURATION``.
    """

    operation: str | None
    """The operation's name, if it has one."""
    tasks: int
    """Root fields of a mutation or subscription that are tasks, aliases included."""
    aliases: int
    depth: int
    """The deepest field nesting; a root field is at depth 1."""


class _Totals(NamedTuple):
    tasks: int
    aliases: int
    depth: int


class _Shape(NamedTuple):
    """One selection set's own counts, and the fragment spreads still to add."""

    tasks: int
    aliases: int
    depth: int
    spreads: list[tuple[str, int, bool]]
    """(fragment name, depth of the spread, whether it is at the root)"""


def _walk(selection_set: SelectionSetNode, root: bool, task_fields: Collection[str]) -> _Shape:
    # An explicit stack: a document can be nested deeper than Python's recursion limit.
    tasks = aliases = deepest = 0
    spreads: list[tuple[str, int, bool]] = []
    stack = [(selection_set, 0, root)]
    while stack:
        node, depth, at_root = stack.pop()
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                if selection.alias is not None:
                    aliases += 1
                if at_root and selection.name.value in task_fields:
                    tasks += 1
                if depth >= deepest:
                    deepest = depth + 1
                if selection.selection_set is not None:
                    stack.append((selection.selection_set, depth + 1, False))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, depth, at_root))
            elif isinstance(selection, FragmentSpreadNode):
                spreads.append((selection.name.value, depth, at_root))
    return _Shape(tasks, aliases, deepest, spreads)


def _combine(shape: _Shape, fragments: dict[str, _Totals]) -> _Totals:
    tasks, aliases, depth = shape.tasks, shape.aliases, shape.depth
    for name, at_depth, at_root in shape.spreads:
        spread = fragments.get(name)
        if spread is None:  # unknown, or closing a cycle: standard validation reports it
            continue
        aliases = min(SATURATION, aliases + spread.aliases)
        if at_root:
            tasks = min(SATURATION, tasks + spread.tasks)
        depth = max(depth, at_depth + spread.depth)
    return _Totals(tasks, aliases, depth)


def _fragment_totals(
    definitions: dict[str, FragmentDefinitionNode], task_fields: Collection[str]
) -> dict[str, _Totals]:
    """Each fragment's totals, computed once, spreads before spreaders (iterative DFS).

    A spread of a fragment still being computed closes a cycle and counts nothing.
    """
    totals: dict[str, _Totals] = {}
    shapes: dict[str, _Shape] = {}
    for start in definitions:
        stack = [start]
        while stack:
            name = stack[-1]
            if name in totals:
                stack.pop()
                continue
            shape = shapes.get(name)
            if shape is None:
                shape = shapes[name] = _walk(definitions[name].selection_set, True, task_fields)
                pending = [
                    spread
                    for spread, _, _ in shape.spreads
                    if spread in definitions and spread not in shapes
                ]
                if pending:
                    stack.extend(pending)
                    continue
            totals[name] = _combine(shape, totals)
            stack.pop()
    return totals


def operation_costs(document: DocumentNode, task_fields: Collection[str]) -> list[Cost]:
    """The cost of every operation defined in ``document``, in document order.

    Linear in the size of the document: each fragment is costed once, then added
    once per spread. ``@skip`` and ``@include`` are ignored (what they guard counts).
    """
    fragments = {
        # The last definition of a name wins, as in graphql-core.
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    totals = _fragment_totals(fragments, task_fields)
    costs = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = definition.operation in _TASK_OPERATIONS
            shape = _walk(definition.selection_set, root, task_fields)
            tasks, aliases, depth = _combine(shape, totals)
            name = definition.name.value if definition.name is not None else None
            costs.append(Cost(name, tasks, aliases, depth))
    return costs


class OperationCost(SchemaExtension):
    """Refuse a document over ``limits`` at parse time (tokens) or before validation.

    Every operation in the document is checked, not only the one ``operationName``
    selects: standard validation covers them all, and a client never needs to send
    an over-limit operation it does not mean to run. The parse and the verdict (this
    check, then standard validation) come from ``verdicts``, kept by document text.
    """

    def __init__(
        self, limits: OperationLimits, task_fields: Iterable[str], verdicts: Verdicts
    ) -> None:
        self.limits = limits
        self.task_fields = frozenset(task_fields)
        self.verdicts = verdicts

    def on_operation(self) -> Iterator[None]:
        # The parser counts as it goes and aborts with a syntax error past the limit.
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            with suppress(GraphQLError):  # a syntax error: strawberry's own parse says so
                context.graphql_document = self.verdicts.parse(
                    context.query, **context.parse_options
                )
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.query and context.pre_execution_errors is None:
            # Set before yielding (an empty list for a valid document): strawberry then
            # skips its own validation.
            context.pre_execution_errors = self.verdicts.verdict(
                context.query,
                context.validation_rules,
                lambda: self._judge(document, context.schema._schema, context.validation_rules),
            )
        yield

    def _judge(
        self, document: DocumentNode, schema: GraphQLSchema, rules: tuple[type[Any], ...]
    ) -> list[GraphQLError]:
        for cost in operation_costs(document, self.task_fields):
            error = self.limits.check(cost)
            if error is not None:
                return [error]
        return strawberry_schema.validate_document(schema, document, rules)


def _refusal(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _amount(number: int) -> str:
    return f"at least {SATURATION}" if number >= SATURATION else str(number)
