"""What the offline demo model answers: the same text for the demo provider and the simulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from bff.demo.action_plan import extract_action_plan
from bff.demo.chat import chat_reply
from bff.demo.countries import brief_country, country_query
from bff.demo.docs import answer_from_docs
from bff.demo.ticket import summarize_ticket
from bff.providers._types import OutputSpec, ToolSpec

HEURISTICS: dict[str, Callable[[str, Sequence[str]], BaseModel]] = {
    "ActionPlan": lambda text, _: extract_action_plan(text),
    "TicketSummary": lambda text, _: summarize_ticket(text),
    "CountryBrief": brief_country,
    "DocsAnswer": lambda text, _: answer_from_docs(text),
}
TOOL_HEURISTICS: dict[str, Callable[[str], BaseModel]] = {"lookup_country": country_query}


def demo_tool_calls(
    text: str, tools: Sequence[ToolSpec], tool_results: Sequence[str]
) -> list[tuple[str, str]]:
    """The demo model's tool calls (name, JSON arguments): the first tool, once, before
    it answers; none when it has a tool's result already or has no tools."""
    if not tools or tool_results:
        return []
    tool = tools[0]
    heuristic = TOOL_HEURISTICS.get(tool.name)
    arguments = heuristic(text).model_dump() if heuristic else instance_from_schema(tool.schema)
    return [(tool.name, json.dumps(arguments, separators=(",", ":")))]


def demo_output(text: str, output: OutputSpec, tool_results: Sequence[str] = ()) -> str:
    """The demo model's whole answer to ``text``: chat prose, or JSON in the JSON modes.

    Output models with a heuristic get a real extraction (using what the tools
    returned); any other schema gets the smallest instance that satisfies it, so
    user tasks run offline too.
    """
    if output.mode == "text":
        return chat_reply(text)
    heuristic = HEURISTICS.get(output.name or "")
    if heuristic is not None:
        return heuristic(text, tool_results).model_dump_json()
    if output.schema is not None:
        return json.dumps(instance_from_schema(output.schema), separators=(",", ":"))
    return json.dumps({"answer": chat_reply(text)}, separators=(",", ":"))


def instance_from_schema(schema: Mapping[str, Any]) -> Any:
    """The smallest value that satisfies a JSON schema of the kind Pydantic writes."""
    return _instance(schema, schema.get("$defs", {}))


def _instance(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Any:
    if "$ref" in node:
        return _instance(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            return _instance(node[key][0], defs)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        required = node.get("required", ())
        return {
            name: _instance(sub, defs)
            for name, sub in node.get("properties", {}).items()
            if name in required
        }
    if kind == "array":
        return [_instance(node.get("items", {}), defs) for _ in range(node.get("minItems", 0))]
    return _scalar(kind, node)


def _scalar(kind: Any, node: Mapping[str, Any]) -> Any:
    """The smallest string, number or boolean a node allows (None for anything else)."""
    if kind == "string":
        return "x" * max(node.get("minLength", 0), 1 if node.get("maxLength", 1) else 0)
    if kind in ("integer", "number"):
        low = node.get("minimum", node.get("exclusiveMinimum", -1) + 1)
        return low if kind == "integer" else float(low)
    return False if kind == "boolean" else None


class DemoAnswers:
    """The demo model, as the demo provider and the simulator are given it."""

    def tool_calls(
        self, text: str, tools: Sequence[ToolSpec], tool_results: Sequence[str]
    ) -> list[tuple[str, str]]:
        return demo_tool_calls(text, tools, tool_results)

    def output(self, text: str, output: OutputSpec, tool_results: Sequence[str]) -> str:
        return demo_output(text, output, tool_results)


DEMO_ANSWERS = DemoAnswers()
