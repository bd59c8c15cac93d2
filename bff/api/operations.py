"""The GraphQL operations in ``graphql/operations/``, each with the fragments it spreads.

The demo page fetches them from ``GET /operations.json`` so that it sends the same
documents the tests validate against the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graphql.language import Visitor

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    parse,
    print_ast,
    visit,
)


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    kind: str
    """query, mutation or subscription"""
    field: str
    """The root field it selects (the task's name for task operations)."""
    document: str
    """The operation and every fragment it needs, ready to send."""


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.append(node.name.value)


def _spreads(node: OperationDefinitionNode | FragmentDefinitionNode) -> list[str]:
    visitor = _Spreads()
    visit(node, visitor)
    return visitor.names


def load_operations(directory: Path) -> dict[str, Operation]:
    """Every named operation of the ``*.graphql`` files in ``directory``, by name."""
    definitions = [
        definition
        for path in sorted(directory.glob("*.graphql"))
        for definition in parse(path.read_text(encoding="utf-8")).definitions
    ]
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    operations: dict[str, Operation] = {}
    for node in definitions:
        if not isinstance(node, OperationDefinitionNode) or node.name is None:
            continue
        needed: list[FragmentDefinitionNode] = []
        pending = _spreads(node)
        while pending:
            fragment = fragments[pending.pop()]
            if fragment not in needed:
                needed.append(fragment)
                pending += _spreads(fragment)
        needed.sort(key=lambda f: f.name.value)
        (first, *_) = node.selection_set.selections
        field = first.name.value if isinstance(first, FieldNode) else ""
        document = print_ast(DocumentNode(definitions=(node, *needed)))
        operations[node.name.value] = Operation(
            node.name.value, node.operation.value, field, document
        )
    return operations
