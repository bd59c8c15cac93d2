"""Turn a Pydantic JSON schema into one OpenAI's strict structured outputs accept.

Strict mode wants every object closed (``additionalProperties: false``), every
property listed in ``required`` (optional ones become nullable), no ``default``,
no ``$ref`` with sibling keys, and only the keywords it supports. String length
limits are not among them, so they move into the description: the model is
told, and the BFF's own streaming checks enforce them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_STRING_LIMITS = (("minLength", "at least {} characters"), ("maxLength", "at most {} characters"))


_MEMO_SIZE = 256
_memo: dict[int, tuple[Mapping[str, Any], dict[str, Any]]] = {}


def strict_schema_of(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``to_strict_schema``, worked out once per schema object: a task's schema is built
    once and sent with every request. The result is shared, so never change it."""
    hit = _memo.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    if len(_memo) >= _MEMO_SIZE:
        del _memo[next(iter(_memo))]
    strict = to_strict_schema(schema)
    _memo[id(schema)] = (schema, strict)  # the schema is kept, so its id stays its own
    return strict


def to_strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    defs: Mapping[str, Any] = schema.get("$defs", {})
    strict = _strict_node(schema, defs)
    if defs:
        strict["$defs"] = {name: _strict_node(node, defs) for name, node in defs.items()}
    return strict


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    ref = node["$ref"]
    name = ref.rsplit("/", 1)[-1]
    if name not in defs:
        raise ValueError(f"unresolvable $ref {ref!r}")
    merged = dict(defs[name])
    merged.update((k, v) for k, v in node.items() if k != "$ref")
    return merged


def _strict_node(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    if "$ref" in node and len(node) > 1:
        node = _resolve(node, defs)
    out: dict[str, Any] = {}
    notes: list[str] = []
    for key, value in node.items():
        if key in ("$defs", "default", "title"):
            continue
        if key in ("minLength", "maxLength"):
            notes.append(dict(_STRING_LIMITS)[key].format(value))
        elif key == "properties":
            out[key] = {name: _strict_node(sub, defs) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = _strict_node(value, defs)
        elif key in ("anyOf", "allOf", "oneOf"):
            out["anyOf" if key == "oneOf" else key] = [_strict_node(sub, defs) for sub in value]
        else:
            out[key] = value
    if notes:
        sentence = "Length: " + ", ".join(notes) + "."
        out["description"] = (
            f"{out['description']} {sentence}" if "description" in out else sentence
        )
    if out.get("type") == "object" or "properties" in out:
        _close_object(out, set(node.get("required", ())))
    return out


def _close_object(out: dict[str, Any], required: set[str]) -> None:
    """Strict mode's objects: every property required (optional ones may be null), no
    other keys."""
    properties: dict[str, Any] = out.setdefault("properties", {})
    for name, sub in properties.items():
        if name not in required:
            properties[name] = _nullable(sub)
    out["required"] = list(properties)
    out["additionalProperties"] = False


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    variants = node.get("anyOf")
    if isinstance(variants, list) and any(v.get("type") == "null" for v in variants):
        return node
    return {"anyOf": [node, {"type": "null"}]}
