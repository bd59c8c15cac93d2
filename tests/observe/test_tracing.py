"""OpenTelemetry spans per stage, seen through the SDK's in-memory exporter."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bff.chat import ChatRunner
from bff.config import Settings
from bff.demo.tasks import EXTRACT_ACTION_PLAN, TextInput
from bff.pipeline import Pipeline
from bff.providers._types import Message
from bff.providers.registry import ProviderRegistry

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)  # once per process, as the API allows
    yield EXPORTER


def _tree(finished: tuple[ReadableSpan, ...]) -> dict[str, list[str]]:
    by_id = {s.context.span_id: s for s in finished}
    children: dict[str, list[str]] = {}
    for span in finished:
        parent = by_id.get(span.parent.span_id) if span.parent else None
        children.setdefault(parent.name if parent else "", []).append(span.name)
    return children


@pytest.mark.anyio
async def test_a_run_has_a_span_per_stage(spans: InMemorySpanExporter) -> None:
    spans.clear()
    settings = Settings(demo_chunk_delay_s=0, demo_fault_rate=1, demo_fault_kinds=["length"],
                        max_attempts=2, retry_base_s=0)  # fmt: skip
    registry = ProviderRegistry(settings)
    secret = "Write to jane.doe@example.com today."
    await Pipeline(registry.get, settings).execute(EXTRACT_ACTION_PLAN, TextInput(text=secret))
    finished = spans.get_finished_spans()
    tree = _tree(finished)
    assert tree[""] == ["bff.run"]
    assert sorted(tree["bff.run"]) == ["bff.call", "bff.call", "bff.sanitize"]
    assert sorted(tree["bff.call"]) == ["bff.parse", "bff.parse", "bff.validate", "bff.validate"]
    (run,) = [s for s in finished if s.name == "bff.run"]
    assert run.attributes is not None
    assert (run.attributes["task"], run.attributes["outcome"]) == (
        "extractActionPlan",
        "safe_response",
    )
    calls = [s.attributes for s in finished if s.name == "bff.call"]
    assert [a["outcome"] for a in calls if a] == ["truncated", "truncated"]
    for span in finished:
        assert "jane" not in str(dict(span.attributes or {}))


@pytest.mark.anyio
async def test_chat_spans(spans: InMemorySpanExporter) -> None:
    spans.clear()
    settings = Settings(demo_chunk_delay_s=0)
    registry = ProviderRegistry(settings)
    pipeline = Pipeline(registry.get, settings)
    runner = ChatRunner(pipeline)
    async for _ in runner.stream((Message("user", "Hello there"),)):
        pass
    tree = _tree(spans.get_finished_spans())
    assert tree == {"": ["bff.chat"], "bff.chat": ["bff.call"]}


def test_without_a_provider_spans_are_no_ops() -> None:
    code = (
        "from bff.observe.tracing import start_span\n"
        "span = start_span('bff.run', task='t')\n"
        "print(span.is_recording(), span.get_span_context().is_valid)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["False", "False"], result.stderr
