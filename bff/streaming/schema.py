"""Compile an output model's JSON schema into nodes the stream checker walks.

Each node knows which JSON types may stand at its place and the constraints
that apply to each type. The checker asks one node per parse event, so the
hot path is a few attribute reads; a path for an error message is built only
when there is an error. Where the schema cannot say ahead of time which branch
of a union applies (two object branches, say), the node accepts that type
unchecked and leaves the decision to the final Pydantic validation: the
streaming checks must never reject what the model would accept.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

UNBOUNDED = sys.maxsize
JSON_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})


class Node:
    """What may stand at one place in the document."""

    __slots__ = (
        "closed",
        "enum",
        "exclusive_maximum",
        "exclusive_minimum",
        "extra",
        "fast_int",
        "fast_string",
        "high",
        "item",
        "kinds",
        "low",
        "max_items",
        "max_length",
        "min_items",
        "min_length",
        "model",
        "pattern",
        "props",
        "required",
    )

    def __init__(self) -> None:
        self.kinds: frozenset[str] = JSON_TYPES
        self.enum: frozenset[Any] | None = None
        self.min_length = 0
        self.max_length = UNBOUNDED
        self.pattern: re.Pattern[str] | None = None
        self.low = -math.inf
        self.high = math.inf
        self.exclusive_minimum: float | None = None
        self.exclusive_maximum: float | None = None
        self.props: dict[str, Node] = {}
        self.required: tuple[str, ...] = ()
        self.closed = False
        self.extra: Node | None = None
        self.item: Node | None = None
        self.min_items = 0
        self.max_items = UNBOUNDED
        self.model: type[BaseModel] | None = None
        self.fast_string = True
        self.fast_int = True

    def seal(self) -> Node:
        """Precompute the flags that let the checker take its fast path."""
        self.fast_string = "string" in self.kinds and self.enum is None and self.pattern is None
        self.fast_int = (
            ("integer" in self.kinds or "number" in self.kinds)
            and self.enum is None
            and self.exclusive_minimum is None
            and self.exclusive_maximum is None
        )
        return self

    def child(self, key: str) -> Node | None:
        """The node for ``key`` in an object here; None when the key is forbidden."""
        node = self.props.get(key)
        if node is not None:
            return node
        if self.closed:
            return None
        return self.extra or ANY

    @property
    def element(self) -> Node:
        return self.item or ANY


ANY = Node()


def compile_model(model: type[BaseModel]) -> Node:
    """The root node for ``model``'s JSON schema, nested models attached for validation."""
    schema = model.model_json_schema()
    models = _nested_models(model)
    root = _Compiler(schema.get("$defs", {}), models).compile(schema)
    root.model = model
    return root


def _nested_models(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    pending: list[Any] = [model]
    while pending:
        item = pending.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item.__name__ in found:
                continue
            found[item.__name__] = item
            pending.extend(field.annotation for field in item.model_fields.values())
        else:
            pending.extend(getattr(item, "__args__", ()))
    return found


class _Compiler:
    def __init__(self, defs: Mapping[str, Any], models: Mapping[str, type[BaseModel]]) -> None:
        self._defs = defs
        self._models = models
        self._refs: dict[str, Node] = {}

    def compile(self, schema: Mapping[str, Any]) -> Node:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self._ref(ref)
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            return _merge([self.compile(b) for b in branches])
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.compile(schema["allOf"][0])
        node = _values(schema)
        node.min_length = schema.get("minLength", 0)
        node.max_length = schema.get("maxLength", UNBOUNDED)
        if "pattern" in schema:
            node.pattern = re.compile(schema["pattern"])
        node.low = schema.get("minimum", -math.inf)
        node.high = schema.get("maximum", math.inf)
        node.exclusive_minimum = schema.get("exclusiveMinimum")
        node.exclusive_maximum = schema.get("exclusiveMaximum")
        if "properties" in schema or node.kinds == {"object"}:
            self._object(node, schema)
        if "items" in schema and isinstance(schema["items"], Mapping):
            node.item = self.compile(schema["items"])
        node.min_items = schema.get("minItems", 0)
        node.max_items = schema.get("maxItems", UNBOUNDED)
        return node.seal()

    def _object(self, node: Node, schema: Mapping[str, Any]) -> None:
        node.props = {k: self.compile(v) for k, v in schema.get("properties", {}).items()}
        node.required = tuple(schema.get("required", ()))
        extra = schema.get("additionalProperties", True)
        node.closed = extra is False
        if isinstance(extra, Mapping):
            node.extra = self.compile(extra)

    def _ref(self, ref: str) -> Node:
        name = ref.rsplit("/", 1)[-1]
        node = self._refs.get(name)
        if node is None:
            # Register before compiling so recursive models end at a shared node.
            node = self._refs[name] = Node()
            compiled = self.compile(self._defs[name])
            for slot in Node.__slots__:
                setattr(node, slot, getattr(compiled, slot))
            node.model = self._models.get(name)
        return node


def _values(schema: Mapping[str, Any]) -> Node:
    """A node with the kinds and the allowed values (enum, const) of ``schema``."""
    node = Node()
    kinds = schema.get("type")
    if isinstance(kinds, str):
        node.kinds = frozenset({kinds})
    elif isinstance(kinds, list):
        node.kinds = frozenset(kinds)
    if "const" in schema:
        node.enum = frozenset({_hashable(schema["const"])})
    elif "enum" in schema:
        node.enum = frozenset(_hashable(v) for v in schema["enum"])
    if node.enum is not None and "type" not in schema:
        node.kinds = frozenset(_json_type(v) for v in node.enum)
    return node


def _merge(branches: list[Node]) -> Node:
    """One node accepting what any branch accepts; a type two branches share goes unchecked."""
    if len(branches) == 1:
        return branches[0]
    node = Node()
    node.kinds = frozenset().union(*(b.kinds for b in branches))
    owners: dict[str, list[Node]] = {}
    for branch in branches:
        for kind in branch.kinds:
            owners.setdefault(kind, []).append(branch)

    def sole(*kinds: str) -> Node | None:
        found = {id(b): b for k in kinds for b in owners.get(k, [])}
        return next(iter(found.values())) if len(found) == 1 else None

    text = sole("string")
    if text is not None:
        node.min_length, node.max_length, node.pattern = (
            text.min_length,
            text.max_length,
            text.pattern,
        )
    number = sole("integer", "number")
    if number is not None:
        node.low, node.high = number.low, number.high
        node.exclusive_minimum, node.exclusive_maximum = (
            number.exclusive_minimum,
            number.exclusive_maximum,
        )
    obj = sole("object")
    if obj is not None:
        node.props, node.required, node.closed = obj.props, obj.required, obj.closed
        node.extra, node.model = obj.extra, obj.model
    array = sole("array")
    if array is not None:
        node.item, node.min_items, node.max_items = array.item, array.min_items, array.max_items
    enums = [b for b in branches if b.enum is not None]
    if enums and all(b.enum is not None or b.kinds <= {"null"} for b in branches):
        values = frozenset().union(*(b.enum for b in enums if b.enum is not None))
        node.enum = values | ({None} if "null" in node.kinds else frozenset())
    return node.seal()


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | None) else repr(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
