"""Parse a JSON document while it streams, and stop at the first event that breaks the schema.

Text goes into an ijson push parser (the yajl2 C backend) as it arrives; the
parse events are checked against the compiled schema and assembled into
values. Each closed object that has a Pydantic model is validated at once, so
the root's model is validated the moment the root closes. Nothing is parsed
twice: the accumulated text is never re-read, except in the error path that
has to find where trailing text begins.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

import ijson
from pydantic import BaseModel, ValidationError

from bff.exceptions import (
    MalformedOutputError,
    OutputValidationError,
    SchemaViolationError,
    TruncatedOutputError,
)
from bff.streaming.schema import Node
from bff.vocabulary import format_errors, join_path

# The C backend, by name: the pure-Python fallback would be tens of times slower.
_YAJL = ijson.get_backend("yajl2_c")
_FENCE = re.compile(r"```[\w+-]*[ \t]*\r?\n?")
_BEFORE, _INSIDE, _AFTER = 0, 1, 2
_Frame = tuple[Node | None, Any, Any]
_OPENING = frozenset(("start_map", "start_array"))
_CLOSING = frozenset(("end_map", "end_array"))


class JsonStreamParser:
    """Incremental JSON for one model answer; see the module docstring.

    ``feed`` raises an :class:`~bff.exceptions.OutputError` at the first text
    that cannot lead to a valid object; ``close`` returns the validated model
    or raises. ``allow_preamble`` tolerates a short text before the first
    brace (json_object mode); a Markdown code fence is tolerated always.
    """

    def __init__(
        self, root: Node, *, allow_preamble: bool = False, preamble_limit: int = 500
    ) -> None:
        self._root = root
        self._allow_preamble = allow_preamble
        self._preamble_limit = preamble_limit
        self._events = ijson.sendable_list()
        self._coro = _YAJL.basic_parse_coro(self._events, use_float=True)
        self._state = _BEFORE
        self._pending = ""
        self._parts: list[str] = []
        self._body_start = 0
        self._trailing = ""
        self._stack: list[_Frame] = []
        self._parent: Node | None = None
        self._cont: Any = None
        self._key: Any = None
        self._node = root
        self.result: Any = None
        self.items_validated = 0

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return "".join(self._parts)

    @property
    def complete(self) -> bool:
        """The top-level value has closed (and was validated)."""
        return self._state == _AFTER

    def feed(self, text: str) -> None:
        if not text:
            return
        self._parts.append(text)
        if self._state == _AFTER:
            self._check_trailing(text)
            return
        if self._state == _BEFORE:
            text = self._find_start(text)
            if not text:
                return
        events = self._events
        error: ijson.JSONError | None = None
        try:
            self._coro.send(text.encode())
        except ijson.JSONError as exc:
            error = exc
        if events:
            try:
                self._walk(events)
            finally:
                del events[:]
        if error is not None:
            if self._state != _AFTER:
                raise MalformedOutputError(f"invalid JSON: {str(error).splitlines()[0]}")
            self._check_trailing(self._text_after_root())

    def close(self) -> BaseModel:
        """The validated object; raises when the document did not close."""
        if self._state == _BEFORE:
            if self._pending.strip(" \t\r\n`"):
                raise MalformedOutputError(f"no JSON object in the output: {self._pending[:80]!r}")
            raise TruncatedOutputError("the output has no JSON object")
        if self._state == _INSIDE:
            raise TruncatedOutputError(
                f"the JSON ended before it closed, after {len(self.text)} characters"
            )
        assert isinstance(self.result, BaseModel)
        return self.result

    def _find_start(self, text: str) -> str:
        """The part of ``text`` from the first brace on, once the text before it is judged."""
        self._pending += text
        brace = self._pending.find("{")
        bracket = self._pending.find("[")
        start = brace if bracket < 0 or 0 <= brace < bracket else bracket
        prefix = self._pending if start < 0 else self._pending[:start]
        self._check_prefix(prefix, finished=start >= 0)
        if start < 0:
            return ""
        if start == bracket and "array" not in self._root.kinds:
            raise SchemaViolationError("(root)", "expected an object, got an array")
        self._state = _INSIDE
        self._body_start = sum(map(len, self._parts)) - (len(self._pending) - start)
        rest = self._pending[start:]
        self._pending = ""
        return rest

    def _check_prefix(self, prefix: str, *, finished: bool) -> None:
        stripped = prefix.strip()
        fence = _FENCE.match(stripped)
        if fence is not None:
            stripped = stripped[fence.end() :].strip()
        elif "```".startswith(stripped) or (stripped.startswith("```") and not finished):
            stripped = ""
        if not stripped:
            return
        if not self._allow_preamble:
            raise MalformedOutputError(f"text before the JSON object: {stripped[:80]!r}")
        if len(prefix) > self._preamble_limit:
            raise MalformedOutputError(
                f"no JSON object in the first {self._preamble_limit} characters"
            )

    def _text_after_root(self) -> str:
        body = self.text[self._body_start :]
        _, end = json.JSONDecoder().raw_decode(body)
        return body[end:]

    def _check_trailing(self, text: str) -> None:
        self._trailing += text
        if self._trailing.strip(" \t\r\n`"):
            raise MalformedOutputError(
                f"text after the JSON object: {self._trailing.strip()[:80]!r}"
            )

    def _walk(self, events: list[tuple[str, Any]]) -> None:
        # The hot path: one pass over the parse events of a feed, with the state in
        # locals and each scalar check reduced to a comparison with precomputed bounds;
        # the precise (slow) checks, and objects and arrays opening and closing, are
        # methods of their own.
        parent, cont, key, node = self._parent, self._cont, self._key, self._node
        for event, value in events:
            if event == "map_key":
                assert parent is not None
                node = parent.props.get(value) or self._child(parent, cont, value)
                key = value
                continue
            if event == "string":
                if not (node.fast_string and node.min_length <= len(value) <= node.max_length):
                    self._check_string(node, value, cont, key)
            elif event == "number":
                if not (type(value) is int and node.fast_int and node.low <= value <= node.high):
                    self._check_number(node, value, cont, key)
            elif event in _OPENING:
                parent, cont, node = self._open(event, parent, node, cont, key)
                continue
            elif event in _CLOSING:
                parent, cont, key, node = self._close(event, parent, cont, node)
                continue
            else:
                self._check_literal(node, value, cont, key)
            if type(cont) is list:
                self._append(cont, parent, key, value)
            else:
                cont[key] = value
        self._parent, self._cont, self._key, self._node = parent, cont, key, node

    def _child(self, parent: Node, cont: Any, name: str) -> Node:
        """The node of a key that is not a plain property (a pattern or extra key)."""
        child = parent.child(name)
        if child is None:
            self._fail(cont, name, f"unknown key {name!r}")
        return child

    def _open(
        self, event: str, parent: Node | None, node: Node, cont: Any, key: Any
    ) -> tuple[Node, Any, Node]:
        """An object or array starts: its node, its empty container, its items' node."""
        kind = "object" if event == "start_map" else "array"
        if kind not in node.kinds:
            self._fail(cont, key, f"expected {_expected(node)}, got an {kind}")
        if type(cont) is list and parent is not None and len(cont) >= parent.max_items:
            self._fail(cont, key, f"more than {parent.max_items} items")
        self._stack.append((parent, cont, key))
        if kind == "object":
            return node, {}, node
        return node, [], node.element

    def _close(
        self, event: str, done: Node | None, value: Any, node: Node
    ) -> tuple[Node | None, Any, Any, Node]:
        """An object or array closes: checked (and validated into its model), it goes
        into the container around it; the state there. The root closing ends the walk."""
        assert done is not None
        if event == "end_array":
            if len(value) < done.min_items:
                self._fail(None, None, f"fewer than {done.min_items} items")
        else:
            for name in done.required:
                if name not in value:
                    self._fail(value, name, "required key missing")
            if done.model is not None:
                value = self._validate(done.model, value)
        parent, cont, key = self._stack.pop()
        if parent is None:
            self.result, self._state = value, _AFTER
            return None, None, None, node
        if type(cont) is not list:
            cont[key] = value
            return parent, cont, key, node
        if done.model is not None:
            self.items_validated += 1
        self._append(cont, parent, key, value)
        return parent, cont, key, parent.element

    def _append(self, cont: list[Any], parent: Node | None, key: Any, value: Any) -> None:
        assert parent is not None
        if len(cont) >= parent.max_items:
            self._fail(cont, key, f"more than {parent.max_items} items")
        cont.append(value)

    def _check_literal(self, node: Node, value: bool | None, cont: Any, key: Any) -> None:
        if value is None:
            if "null" not in node.kinds:
                self._fail(cont, key, f"expected {_expected(node)}, got null")
        elif "boolean" not in node.kinds or (node.enum is not None and value not in node.enum):
            self._check_enum_or_kind(node, value, "a boolean", cont, key)

    def _check_string(self, node: Node, value: str, cont: Any, key: Any) -> None:
        if "string" not in node.kinds:
            self._fail(cont, key, f"expected {_expected(node)}, got a string")
        if len(value) > node.max_length:
            self._fail(
                cont, key, f"string of {len(value)} characters, at most {node.max_length} allowed"
            )
        if len(value) < node.min_length:
            self._fail(
                cont, key, f"string of {len(value)} characters, at least {node.min_length} required"
            )
        if node.pattern is not None and node.pattern.search(value) is None:
            self._fail(cont, key, f"{value!r} does not match {node.pattern.pattern!r}")
        self._check_enum_or_kind(node, value, "a string", cont, key)

    def _check_enum_or_kind(self, node: Node, value: Any, what: str, cont: Any, key: Any) -> None:
        if not _kind_ok(node.kinds, value):
            self._fail(cont, key, f"expected {_expected(node)}, got {what}")
        if node.enum is not None and value not in node.enum:
            self._fail(cont, key, f"{value!r} is not one of {_choices(node)}")

    def _check_number(self, node: Node, value: int | float, cont: Any, key: Any) -> None:
        self._check_enum_or_kind(node, value, f"the number {value}", cont, key)
        if value < node.low:
            self._fail(cont, key, f"{value} is less than the minimum {node.low}")
        if value > node.high:
            self._fail(cont, key, f"{value} is more than the maximum {node.high}")
        if node.exclusive_minimum is not None and value <= node.exclusive_minimum:
            self._fail(cont, key, f"{value} is not more than {node.exclusive_minimum}")
        if node.exclusive_maximum is not None and value >= node.exclusive_maximum:
            self._fail(cont, key, f"{value} is not less than {node.exclusive_maximum}")

    def _validate(self, model: type[BaseModel], value: Any) -> BaseModel:
        try:
            result: BaseModel = model.__pydantic_validator__.validate_python(value)
            return result
        except ValidationError as exc:
            raise OutputValidationError(format_errors(exc, self._path(None, None))) from None

    def _fail(self, cont: Any, key: Any, problem: str) -> NoReturn:
        raise SchemaViolationError(self._path(cont, key) or "(root)", problem)

    def _path(self, cont: Any, key: Any) -> str:
        """Where the value at ``key`` of ``cont`` sits (the error path only).

        Each stack frame holds an outer container and the key (or, for an
        array, the next index) at which the container inside it sits.
        """
        frames = [*self._stack, (None, cont, key)]
        parts: list[str | int] = []
        for _, container, at in frames:
            if container is None:
                continue
            parts.append(len(container) if type(container) is list else at)
        return join_path("", parts)


def _kind_ok(kinds: frozenset[str], value: Any) -> bool:
    if value is None:
        return "null" in kinds
    if type(value) is bool:
        return "boolean" in kinds
    if type(value) is int:
        return "integer" in kinds or "number" in kinds
    if type(value) is float:
        return "number" in kinds or ("integer" in kinds and value.is_integer())
    return "string" in kinds


def _expected(node: Node) -> str:
    return " or ".join(sorted(node.kinds))


def _choices(node: Node) -> str:
    assert node.enum is not None
    return ", ".join(sorted(repr(v) for v in node.enum))
