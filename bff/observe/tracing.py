"""OpenTelemetry spans per stage (run, sanitize, provider call, parse, validate).

Through ``opentelemetry-api`` only: without a configured tracer provider every
span is a no-op. Spans are started with an explicit parent and ended
explicitly, never made "current", because runs are async generators that may
resume in another context.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

__all__ = ["AttributeValue", "Span", "start_span"]

_tracer = trace.get_tracer("bff")


def start_span(name: str, parent: Span | None = None, **attributes: AttributeValue) -> Span:
    """A new span ``name`` under ``parent`` (a root span without one)."""
    context = trace.set_span_in_context(parent) if parent is not None else None
    return _tracer.start_span(name, context=context, attributes=attributes)
