from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from bff.providers._sse import SSEDecoder, coalesce
from bff.providers._types import Finish, RefusalDelta, TextDelta, ToolCallDelta, Usage

BODY = (
    b": keep-alive comment\n\n"
    b'data: {"a":1}\n\n'
    b"event: message\r\nid: 7\r\n"
    b'data: {"b":\r\ndata: 2}\r\n\r\n'
    + 'data: {"t":"caf\u00e9 \U0001f600"}\n\n'.encode()
    + b"data:[DONE]\n\n"
)
EVENTS = [b'{"a":1}', b'{"b":\n2}', '{"t":"caf\u00e9 \U0001f600"}'.encode(), b"[DONE]"]


@given(st.lists(st.integers(min_value=0, max_value=len(BODY)), max_size=20))
def test_events_survive_any_split_into_reads(cuts: list[int]) -> None:
    decoder = SSEDecoder()
    points = sorted({0, len(BODY), *cuts})
    got: list[bytes] = []
    for start, end in itertools.pairwise(points):
        got += decoder.feed(BODY[start:end])
    got += decoder.flush()
    assert got == EVENTS


def test_multi_byte_characters_split_between_reads() -> None:
    decoder = SSEDecoder()
    got = [event for byte in BODY for event in decoder.feed(bytes([byte]))]
    assert got == EVENTS
    assert json.loads(got[2]) == {"t": "caf\u00e9 \U0001f600"}


def test_a_body_without_the_last_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"x":1}\n') == []
    assert decoder.flush() == [b'{"x":1}']
    assert decoder.flush() == []


def test_coalesce_merges_what_arrived_together() -> None:
    events = [
        TextDelta("ab"),
        TextDelta("cd"),
        RefusalDelta("no"),
        RefusalDelta("pe"),
        ToolCallDelta(0, "call_1", "f", ""),
        ToolCallDelta(0, None, None, '{"a"'),
        ToolCallDelta(0, None, None, ":1}"),
        ToolCallDelta(1, "call_2", "g", "{}"),
        ToolCallDelta(1, None, None, ""),
        Finish("tool_calls"),
        Usage(1, 2),
        TextDelta("x"),
    ]
    assert coalesce(events) == [
        TextDelta("abcd"),
        RefusalDelta("nope"),
        ToolCallDelta(0, "call_1", "f", '{"a":1}'),
        ToolCallDelta(1, "call_2", "g", "{}"),
        Finish("tool_calls"),
        Usage(1, 2),
        TextDelta("x"),
    ]
