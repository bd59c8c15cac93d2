"""Fuzz POST /graphql over real HTTP: nothing a client sends gets a 5xx.

Two sources of requests. hypothesis-graphql derives queries and mutations from
graphql/schema.graphql (the contract, kept equal to ``bff export-schema``):
valid ones, and ones with a single schema violation. The hostile strategy sends
what a careless or malicious client might: JSON that is not a request object,
batches, invalid UTF-8, other encodings and content types, numbers past
Python's digit limit, deep nesting, many aliases, huge variables. The right
answer to each is a 4xx or a 200 with GraphQL ``errors``; a 5xx, or no answer
at all, fails with the request, the response and the server's traceback.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, mutations, nodes

from bff.app import create_app
from bff.config import Settings
from bff.testing.server import ServerThread
from graphql import get_introspection_query

SDL = (Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql").read_text()
LIMIT = 1_048_576  # max_body_bytes (the default): huge bodies land on either side of it
GRAPHQL_RESPONSE = "application/graphql-response+json"
MUTATION = "mutation M($text: String!) { extractActionPlan(text: $text) { __typename } }"

# A fixed budget: the same examples on every run, about ten seconds on two cores.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Probe:
    """One POST to /graphql: the raw body, the headers it goes with, and whether it is
    sent chunked (no content-length, so the body limit is enforced as bytes arrive)."""

    body: bytes
    content_type: str | None = "application/json"
    accept: str | None = None
    chunked: bool = False

    def __repr__(self) -> str:
        return (
            f"Probe({_clip(self.body)}, content_type={self.content_type!r}, "
            f"accept={self.accept!r}, chunked={self.chunked})"
        )


def _clip(body: bytes, keep: int = 600) -> str:
    if len(body) <= keep:
        return repr(body)
    return f"{body[: keep // 2]!r} ... {body[-keep // 4 :]!r} ({len(body)} bytes)"


class _Tracebacks(logging.Handler):
    """What uvicorn logs when an exception escapes the app, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


@dataclass
class Target:
    """The served app's client, and the tracebacks its server has logged."""

    client: httpx.Client
    tracebacks: _Tracebacks
    statuses: Counter[int] = field(default_factory=Counter)

    def traceback_since(self, seen: int) -> str:
        # The 500 is sent before the exception reaches uvicorn's log: wait for it briefly.
        deadline = time.monotonic() + 1
        while len(self.tracebacks.records) == seen and time.monotonic() < deadline:
            time.sleep(0.01)
        logged = self.tracebacks.records[seen:]
        return "\n".join(logged)[-4000:] if logged else "(nothing logged)"


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    # No request-rate limit: the fuzz must reach GraphQL, not the limiter.
    settings_ = Settings(
        model="demo/heuristic", demo_chunk_delay_s=0, max_body_bytes=LIMIT, rate_limit="none"
    )
    server_log = logging.getLogger("uvicorn.error")
    tracebacks = _Tracebacks()
    # No keep-alive: after an unhandled error the server drops the connection, and a
    # reused one would pin that on the next example instead of the one that caused it.
    limits = httpx.Limits(max_keepalive_connections=0)
    with (
        ServerThread(create_app(settings_).state.asgi, settings=settings_) as server,
        httpx.Client(base_url=server.url, timeout=10, limits=limits) as client,
    ):
        server_log.addHandler(tracebacks)  # after uvicorn has configured its loggers
        target = Target(client, tracebacks)
        try:
            yield target
        finally:
            server_log.removeHandler(tracebacks)
    # The probes reached GraphQL: some were executed, none stopped at the edge's limits.
    assert target.statuses[200] >= 50, target.statuses
    assert not {401, 429} & set(target.statuses), target.statuses


def assert_no_server_error(target: Target, probe: Probe) -> None:
    headers = {"content-type": probe.content_type, "accept": probe.accept}
    seen = len(target.tracebacks.records)
    request = (
        f"POST /graphql content-type={probe.content_type!r} accept={probe.accept!r} "
        f"chunked={probe.chunked}\nbody: {_clip(probe.body, 2000)}"
    )
    try:
        response = target.client.post(
            "/graphql",
            content=iter([probe.body]) if probe.chunked else probe.body,
            headers={k: v for k, v in headers.items() if v is not None},
        )
    except httpx.TransportError as exc:
        log = target.traceback_since(seen)
        raise AssertionError(f"no response: {exc!r}\n{request}\nserver log:\n{log}") from exc
    target.statuses[response.status_code] += 1
    assert response.status_code < 500, (
        f"{response.status_code} for\n{request}\n"
        f"response: {response.headers.get('content-type')!r} {response.text[:2000]!r}\n"
        f"server log:\n{target.traceback_since(seen)}"
    )


ACCEPTS = st.sampled_from(
    [
        None,
        "application/json",
        GRAPHQL_RESPONSE,
        f"{GRAPHQL_RESPONSE}, application/json;q=0.9",
        "*/*",
        "text/html",
        "text/event-stream",
        'multipart/mixed;subscriptionSpec="1.0", application/json',
    ]
)

# JSON is an output scalar today; registered so that an input of it can be generated too.
_JSON_LEAVES = (
    st.booleans().map(nodes.Boolean)
    | st.integers(-(2**31), 2**31 - 1).map(nodes.Int)
    | st.text(max_size=20).map(nodes.String)
)
CUSTOM_SCALARS = {
    "JSON": st.recursive(_JSON_LEAVES, lambda inner: st.lists(inner, max_size=3).map(nodes.List))
}
# Valid queries and mutations, and mutations with one violation (Query has no
# arguments to violate, so NEGATIVE mode has nothing to work with there).
OPERATIONS = from_schema(SDL, custom_scalars=CUSTOM_SCALARS) | mutations(
    SDL, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE
)


@FUZZ
@given(document=OPERATIONS, accept=ACCEPTS)
def test_schema_operations_never_get_a_5xx(
    target: Target, document: str, accept: str | None
) -> None:
    body = json.dumps({"query": document}, ensure_ascii=False).encode()
    assert_no_server_error(target, Probe(body, accept=accept))


# Hostile requests: each builder draws a raw body; HOSTILE sends it with odd headers.

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
DOCUMENTS = st.sampled_from(
    [
        "{ health { status } }",
        "query Q { tasks { name inputSchema } models { route } }",
        MUTATION,
        'subscription S { summarizeTicket(text: "It crashes") { __typename } }',
        get_introspection_query(),
        "",
        "{",
        "query Q { __typename } query Q { __typename }",
    ]
)
REQUESTS = st.builds(
    lambda fields, extra: {**extra, **fields},
    st.fixed_dictionaries(
        {},
        optional={
            "query": DOCUMENTS | JSON_VALUES,
            "variables": st.dictionaries(st.sampled_from(["text", ""]), JSON_VALUES) | JSON_VALUES,
            "operationName": st.sampled_from(["Q", "M", "S", ""]) | JSON_VALUES,
            "extensions": JSON_VALUES,
        },
    ),
    st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=2),
)
BAD_UTF8 = st.sampled_from(
    [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"]
) | st.binary(min_size=1, max_size=6)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "",
        "text/plain",
        "application/graphql",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "application/octet-stream",
        "APPLICATION/JSON",
        "application/json; charset=utf-16",
        "application/json; charset=nope",
        GRAPHQL_RESPONSE,
    ]
)


def _up_to(high: int) -> st.SearchStrategy[int]:
    """A size up to ``high``, and often ``high`` itself: past the limits the app leans on."""
    return st.integers(1, high) | st.just(high)


def _request(query: str, **fields: Any) -> bytes:
    return json.dumps({"query": query, **fields}).encode()


def _nested(depth: int, kind: str) -> str:
    opening, closing = {
        "list": ("[", "]"),
        "object": ('{"a":', "}"),
        "fragment": ("... on Query { ", "}"),
        "type": ("type { ofType { ", "} }"),
    }[kind]
    return opening * depth + ("1" if kind == "object" else "") + closing * depth


@st.composite
def _deep(draw: st.DrawFn) -> bytes:
    depth = draw(_up_to(3000))
    kind = draw(st.sampled_from(["json", "variables", "fragment", "type", "value", "chain"]))
    if kind == "json":
        return _nested(depth, draw(st.sampled_from(["list", "object"]))).encode()
    if kind == "variables":
        value = _nested(depth, draw(st.sampled_from(["list", "object"])))
        return f'{{"query": "{{ health {{ status }} }}", "variables": {{"v": {value}}}}}'.encode()
    if kind == "fragment":
        return _request("{ " + _nested(depth, "fragment") + "__typename }")
    if kind == "type":
        return _request("{ __schema { types { " + _nested(depth, "type") + "name } } }")
    if kind == "value":
        return _request(
            f"mutation {{ extractActionPlan(text: {_nested(depth, 'list')}) {{ __typename }} }}"
        )
    # A chain (or, closing it, a cycle) of fragments: shallow to parse, deep to validate.
    close = "...F0" if draw(st.booleans()) else "__typename"
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(depth))
    return _request(f"{{ ...F0 }} {chain} fragment F{depth} on Query {{ {close} }}")


@st.composite
def _wide(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["aliases", "mutations", "directives", "operations", "variables"]))
    if kind == "aliases":
        field = draw(st.sampled_from(["__typename", "health { status }", "tasks { name }"]))
        count = draw(_up_to(2000))
        return _request("{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }")
    if kind == "mutations":
        count = draw(_up_to(40))
        call = 'extractActionPlan(text: "Call Bob today. Buy milk.") { __typename }'
        return _request("mutation { " + " ".join(f"a{i}: {call}" for i in range(count)) + " }")
    if kind == "directives":
        count = draw(_up_to(2000))
        return _request("{ __typename " + "@include(if: true) " * count + "}")
    if kind == "operations":
        count = draw(_up_to(500))
        name = draw(st.sampled_from([None, "Q0", "Q1", "nope"]))
        query = " ".join(f"query Q{i} {{ __typename }}" for i in range(count))
        return _request(query, **({} if name is None else {"operationName": name}))
    count = draw(_up_to(5000))
    return _request("{ health { status } }", variables={f"v{i}": i for i in range(count)})


@st.composite
def _huge(draw: st.DrawFn) -> bytes:
    """A body of about ``size`` bytes, mostly one variable: around the body limit (413
    past it), or anywhere below it."""
    size = draw(st.integers(LIMIT - 256, LIMIT + 1024) | st.integers(1, LIMIT))
    unit = json.dumps(draw(st.sampled_from(["x", "Call Bob today. ", "é", "\x00", "😀"])))
    if draw(st.booleans()):
        template = _request(MUTATION, variables={"text": "@"})
    else:
        template = _request("{ health { status } }", variables={"pad": "@"})
    count = max(0, size - len(template)) // (len(unit) - 2)
    return template.replace(b'"@"', f'"{unit[1:-1] * count}"'.encode())


@st.composite
def _numbers(draw: st.DrawFn) -> bytes:
    digits = draw(_up_to(6000))
    number = draw(st.sampled_from(["9" * digits, "-" + "1" * digits, "1e" + "9" * digits]))
    if draw(st.booleans()):
        return number.encode()
    return f'{{"query": "{{ health {{ status }} }}", "variables": {{"n": {number}}}}}'.encode()


@st.composite
def _encodings(draw: st.DrawFn) -> bytes:
    """Valid requests in the wrong encoding, or with bytes that are not UTF-8 at all."""
    body = _request(draw(DOCUMENTS))
    how = draw(st.sampled_from(["utf-8-sig", "utf-16", "utf-16-be", "utf-32", "splice", "escape"]))
    if how == "splice":
        at = draw(st.integers(0, len(body)))
        return body[:at] + draw(BAD_UTF8) + body[at:]
    if how == "escape":  # lone surrogates, valid JSON escapes that are no valid text
        surrogate = draw(st.sampled_from(["\\ud800", "\\udfff", "\\ud83d", "\\u0000"]))
        place = draw(st.sampled_from(["query", "variables", "operationName", "key"]))
        if place == "query":
            return f'{{"query": "{{ health {{ status }} }} #{surrogate}"}}'.encode()
        if place == "variables":
            return f'{{"query": "{MUTATION}", "variables": {{"text": "hi {surrogate}"}}}}'.encode()
        if place == "operationName":
            return (
                f'{{"query": "query Q {{ __typename }}", "operationName": "{surrogate}"}}'.encode()
            )
        return f'{{"query": "{{ health {{ status }} }}", "{surrogate}": 1}}'.encode()
    return body.decode().encode(how)


BODIES: st.SearchStrategy[bytes] = st.one_of(
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),  # NaN and Infinity too
    REQUESTS.map(lambda value: json.dumps(value).encode()),
    st.lists(REQUESTS, max_size=4).map(lambda batch: json.dumps(batch).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"", b" ", b"\n", b"\x00", b"{}", b"[]", b'{"query": null}', b"{,}"]),
    _encodings(),
    _numbers(),
    _deep(),
    _wide(),
    _huge(),
)
HOSTILE = st.builds(
    Probe,
    BODIES,
    content_type=st.just("application/json") | CONTENT_TYPES,
    accept=ACCEPTS,
    chunked=st.booleans(),
)


@settings(FUZZ, max_examples=600)
@given(probe=HOSTILE)
def test_hostile_requests_never_get_a_5xx(target: Target, probe: Probe) -> None:
    assert_no_server_error(target, probe)
