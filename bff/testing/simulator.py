"""An OpenAI-compatible provider simulator with scripted faults.

``POST /v1/chat/completions`` (streamed or not) and ``GET /v1/models`` speak
OpenAI's wire format; answers come from the demo model unless a test scripts
something else. Control routes under ``/_sim/`` let a test in another process
script steps (``POST /_sim/script``), read what arrived (``GET /_sim/requests``),
open a gate that held streams wait at (``POST /_sim/release``) and start over
(``POST /_sim/reset``). In the same process, use the :class:`Simulator` methods
directly; its ``wait_*`` methods block on a condition that every arrival, hold and
ending notifies, so a test waits for what it needs rather than for a while.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bff import faults
from bff.faults import chunk_text
from bff.providers._types import OutputSpec, ToolSpec
from bff.providers.demo import Answers
from bff.testing import _wire
from bff.testing.script import Outcome, RequestRecord, Script, Step
from bff.tokens import CHARS_PER_TOKEN, estimate_tokens

KNOWN_MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1-mini", "o4-mini")
_RATE_HEADERS = {
    "x-ratelimit-limit-requests": "30000",
    "x-ratelimit-limit-tokens": "150000000",
    "x-ratelimit-remaining-requests": "29999",
    "x-ratelimit-remaining-tokens": "149999990",
    "x-ratelimit-reset-requests": "2ms",
    "x-ratelimit-reset-tokens": "0s",
}


class _ScriptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = "*"
    steps: list[Step]


class _ReleaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gate: str = "hold"


class _Gate:
    """Where held streams wait: opened from any thread, awaited on the server's loop.
    Its state is guarded by the simulator's condition, which it notifies."""

    def __init__(self, changed: threading.Condition) -> None:
        self._changed = changed
        self.opened = False
        self.waiting = 0
        self._wakers: list[Callable[[], None]] = []

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()

        def wake() -> None:
            with suppress(RuntimeError):  # the loop has closed: nobody is waiting
                loop.call_soon_threadsafe(event.set)

        with self._changed:
            if self.opened:
                return
            self.waiting += 1
            self._wakers.append(wake)
            self._changed.notify_all()
        try:
            await event.wait()
        finally:
            with self._changed:
                self.waiting -= 1
                self._wakers.remove(wake)
                self._changed.notify_all()

    def open(self) -> None:
        """Call with the simulator's condition held."""
        self.opened = True
        for wake in self._wakers:
            wake()


class Simulator:
    """The simulator's state and its Starlette app (``.app``)."""

    def __init__(self, answers: Answers, *, chunk_delay: float = 0.0) -> None:
        """``answers`` are what a request without a scripted answer gets (``bff simulate``
        and the tests give it the demo model's)."""
        self.answers = answers
        self.chunk_delay = self._initial_chunk_delay = chunk_delay
        self.script = Script()
        self.requests: list[RequestRecord] = []
        # Guards ``requests``, the records' endings and the gates; notified on each change.
        self._changed = threading.Condition()
        self._gates: dict[str, _Gate] = {}
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._completions, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/_sim/script", self._add_script, methods=["POST"]),
                Route("/_sim/requests", self._list_requests, methods=["GET"]),
                Route("/_sim/release", self._release, methods=["POST"]),
                Route("/_sim/reset", self._reset, methods=["POST"]),
            ]
        )

    def add(self, *steps: Step | Mapping[str, Any], model: str = "*") -> None:
        """Queue steps for ``model`` (``"*"``: any model without its own queue)."""
        self.script.add([s if isinstance(s, Step) else Step(**s) for s in steps], model)

    def reset(self) -> None:
        """Forget the script, the requests and the gates, and restore the chunk delay.
        Streams still held at a gate are let go, so nothing waits on an earlier test."""
        self.script.clear()
        with self._changed:
            self.requests.clear()
            gates, self._gates = self._gates, {}
            for gate in gates.values():
                gate.open()
            self._changed.notify_all()
        self.chunk_delay = self._initial_chunk_delay

    def release(self, gate: str = "hold") -> None:
        """Open ``gate``: the streams held at it go on, and later ones pass through."""
        with self._changed:
            self._gate(gate).open()

    def wait_until_settled(self, timeout: float = 10.0) -> list[RequestRecord]:
        """Wait until every request received so far has ended, then return them all."""
        return self._wait_for(
            lambda: all(r.outcome is not None for r in self.requests),
            timeout,
            "simulator requests still open",
        )

    def wait_for_requests(self, count: int = 1, timeout: float = 10.0) -> list[RequestRecord]:
        """Wait until at least ``count`` requests have arrived, then return them all."""
        return self._wait_for(
            lambda: len(self.requests) >= count, timeout, f"fewer than {count} requests"
        )

    def wait_until_held(
        self, count: int = 1, gate: str = "hold", timeout: float = 10.0
    ) -> list[RequestRecord]:
        """Wait until ``count`` streams are waiting at ``gate``, then return every request."""
        return self._wait_for(
            lambda: self._gate(gate).waiting >= count,
            timeout,
            f"fewer than {count} streams held at {gate!r}",
        )

    def _wait_for(
        self, ready: Callable[[], bool], timeout: float, problem: str
    ) -> list[RequestRecord]:
        with self._changed:
            if not self._changed.wait_for(ready, timeout):
                raise TimeoutError(f"{problem} after {timeout:.1f}s")
            return list(self.requests)

    def _gate(self, name: str) -> _Gate:
        """Call with the condition held."""
        gate = self._gates.get(name)
        if gate is None:
            gate = self._gates[name] = _Gate(self._changed)
        return gate

    async def _hold(self, name: str) -> None:
        with self._changed:
            gate = self._gate(name)
        await gate.wait()

    def _arrived(self, model: str, body: dict[str, Any], stream: bool) -> RequestRecord:
        with self._changed:
            record = RequestRecord(len(self.requests) + 1, model, body, stream)
            record.started_at = time.monotonic()
            self.requests.append(record)
            self._changed.notify_all()
        return record

    def _ended(self, record: RequestRecord, outcome: Outcome) -> None:
        with self._changed:
            record.outcome = outcome
            record.ended_at = time.monotonic()
            self._changed.notify_all()

    async def _add_script(self, request: Request) -> Response:
        try:
            body = _ScriptBody.model_validate_json(await request.body())
        except ValidationError as exc:
            return JSONResponse({"error": exc.errors(include_url=False)}, status_code=422)
        self.script.add(body.steps, body.model)
        return JSONResponse({"pending": self.script.pending()})

    async def _list_requests(self, request: Request) -> Response:
        with self._changed:
            records = [r.as_dict() for r in self.requests]
        return JSONResponse({"requests": records})

    async def _release(self, request: Request) -> Response:
        try:
            body = _ReleaseBody.model_validate_json(await request.body() or b"{}")
        except ValidationError as exc:
            return JSONResponse({"error": exc.errors(include_url=False)}, status_code=422)
        self.release(body.gate)
        return JSONResponse({"released": body.gate})

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"pending": 0})

    async def _models(self, request: Request) -> Response:
        data = [
            {"id": name, "object": "model", "created": 1715367049, "owned_by": "system"}
            for name in KNOWN_MODELS
        ]
        return JSONResponse({"object": "list", "data": data})

    async def _completions(self, request: Request) -> Response | _FrameStream:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _error(401, "You didn't provide an API key.", code=None)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        problem = _request_problem(body)
        if problem is not None:
            return _error(400, problem[0], param=problem[1])
        model = body["model"]
        stream = bool(body.get("stream"))
        record = self._arrived(model, body, stream)
        step = self.script.next(model)
        record.status = step.status
        if step.status != 200:
            self._ended(record, "error")
            return _scripted_error(step, model)
        if step.body is not None:
            frames = [f.encode() + b"\n\n" for f in step.body.split("\n\n") if f.strip()]
            return self._frame_stream(frames, step, record, step.content_type)
        answer = _Answer.build(step, body, self.answers)
        if not stream or step.unstreamed:
            self._ended(record, "completed")
            return JSONResponse(answer.completion(model, body), headers=_headers())
        return self._frame_stream(answer.frames(model, body), step, record, None)

    def _frame_stream(
        self, frames: list[bytes], step: Step, record: RequestRecord, content_type: str | None
    ) -> _FrameStream:
        delay = self.chunk_delay if step.chunk_delay_s is None else step.chunk_delay_s
        record.chunks_total = len(frames)
        return _FrameStream(frames, step, record, delay, content_type, self._hold, self._ended)


def _request_problem(body: object) -> tuple[str, str] | None:
    if not isinstance(body, dict):
        return "The request body must be a JSON object.", "body"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter", "model"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "Invalid 'messages': empty array. Expected an array with minimum length 1.", (
            "messages"
        )
    return None


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    headers = {"x-request-id": "req_" + secrets.token_hex(16), "openai-processing-ms": "1"}
    headers.update(_RATE_HEADERS)
    headers.update(extra or {})
    return headers


def _error(
    status: int, message: str, *, param: str | None = None, code: str | None = ""
) -> Response:
    body = _wire.error_envelope(status, message, param=param, code=code or None)
    return Response(body, status, headers=_headers(), media_type="application/json")


def _scripted_error(step: Step, model: str) -> Response:
    extra = dict(step.headers)
    if step.retry_after is not None:
        extra.setdefault("retry-after", str(max(1, round(step.retry_after))))
        extra.setdefault("retry-after-ms", str(round(step.retry_after * 1000)))
    if step.body is not None:
        media = step.content_type or "application/json; charset=utf-8"
        return Response(step.body, step.status, headers=_headers(extra), media_type=media)
    body = _wire.error_envelope(
        step.status, step.error_message, model=model, error_type=step.error_type,
        code=step.error_code,
    )  # fmt: skip
    return Response(
        body, step.status, headers=_headers(extra), media_type="application/json; charset=utf-8"
    )


def _user_text(messages: list[Any], *, first: bool) -> str:
    """The last user turn (chat), or the first (a structured task's input; later user
    turns are corrections)."""
    for message in messages if first else reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            return " ".join(
                p.get("text", "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
        return content if isinstance(content, str) else ""
    return ""


def _output_spec(body: Mapping[str, Any]) -> OutputSpec:
    """The output mode a request asks for, read the way OpenAI reads it: a forced function
    is the answer (tools mode); otherwise the response format decides."""
    choice = body.get("tool_choice")
    wanted = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    for function in _functions(body):
        if wanted is not None and wanted == function.get("name"):
            return OutputSpec("tools", wanted, function.get("parameters"))
    response_format = body.get("response_format") or {}
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema", {})
        return OutputSpec("json_schema", spec.get("name"), spec.get("schema"))
    if kind == "json_object":
        schema = _schema_in_prompt(body["messages"])
        title = schema.get("title") if schema else None
        return OutputSpec("json_object", title if isinstance(title, str) else None, schema)
    return OutputSpec()


def _functions(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        tool["function"]
        for tool in body.get("tools") or ()
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict)
    ]


def _offered_tools(body: Mapping[str, Any]) -> list[ToolSpec]:
    """The tools the model may call before it answers (not a forced answer function)."""
    if isinstance(body.get("tool_choice"), dict):
        return []
    return [
        ToolSpec(f.get("name", ""), f.get("description", ""), f.get("parameters") or {})
        for f in _functions(body)
    ]


def _tool_results(messages: list[Any]) -> list[str]:
    return [
        m["content"]
        for m in messages
        if isinstance(m, dict) and m.get("role") == "tool" and isinstance(m.get("content"), str)
    ]


def _schema_in_prompt(messages: list[Any]) -> dict[str, Any] | None:
    """A JSON schema the system prompt spells out, as json_object mode prompts must."""
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "system":
            continue
        content = message.get("content")
        if not isinstance(content, str) or "JSON schema" not in content:
            continue
        start = content.find("{", content.index("JSON schema"))
        if start < 0:
            continue
        try:
            schema, _ = json.JSONDecoder().raw_decode(content, start)
        except ValueError:
            continue
        if isinstance(schema, dict):
            return schema
    return None


class _Answer:
    """One answer after the step's fault: content, a refusal, or tool calls (``calls``,
    name and arguments each; in tools mode the answer is one call of the output function)."""

    def __init__(self, kind: str, text: str, finish: str, calls: list[tuple[str, str]]) -> None:
        self.kind, self.text, self.finish, self.calls = kind, text, finish, calls

    @classmethod
    def build(cls, step: Step, body: Mapping[str, Any], answers: Answers) -> _Answer:
        output = _output_spec(body)
        asked = _user_text(body["messages"], first=output.mode != "text")
        results = _tool_results(body["messages"])
        if step.tool_calls is not None:
            calls = [(c.name, c.arguments) for c in step.tool_calls]
        elif step.content is None:
            calls = answers.tool_calls(asked, _offered_tools(body), results)
        else:
            calls = []
        if calls:
            return cls("tool", "".join(a for _, a in calls), "tool_calls", calls)
        kind = "tool" if output.mode == "tools" else "content"
        finish = "tool_calls" if kind == "tool" else "stop"
        text = step.content
        if text is None:
            text = answers.output(asked, output, results)
        transform: dict[str, Callable[[str], str]] = {
            "malformed": faults.malformed,
            "schema_violation": faults.schema_violation,
            "drift": faults.helpful_suffix,
            "length": faults.truncated,
            "content_filter": faults.truncated,
        }
        if step.fault in transform:
            text = transform[step.fault](text)
        if step.fault in ("length", "content_filter"):
            finish = step.fault
        elif step.fault == "refusal":
            kind, text, finish = "refusal", faults.REFUSAL_TEXT, "stop"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and estimate_tokens(text) > limit and not step.ignore_max_tokens:
            text, finish = text[: limit * CHARS_PER_TOKEN], "length"
        return cls(kind, text, finish, [(output.name or "", text)] if kind == "tool" else [])

    def _usage(self, body: Mapping[str, Any]) -> tuple[int, int]:
        prompt = sum(
            estimate_tokens(m.get("content") or "") + 4
            for m in body["messages"]
            if isinstance(m, dict) and isinstance(m.get("content"), str | None)
        )
        return prompt + 3, estimate_tokens(self.text)

    def completion(self, model: str, body: Mapping[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if self.kind == "tool":
            message["tool_calls"] = [
                {
                    "id": "call_" + secrets.token_hex(12),
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
                for name, arguments in self.calls
            ]
        elif self.kind == "content":
            message["content"] = self.text
        message["refusal"] = self.text if self.kind == "refusal" else None
        message["annotations"] = []
        return _wire.completion(model, message, self.finish, *self._usage(body))

    def frames(self, model: str, body: Mapping[str, Any]) -> list[bytes]:
        options = body.get("stream_options") or {}
        writer = _wire.ChunkWriter(
            model,
            include_usage=bool(options.get("include_usage")),
            obfuscate=options.get("include_obfuscation", True) is not False,
        )
        pieces = chunk_text(self.text)
        deltas: list[dict[str, Any]]
        if self.kind == "tool":
            first: dict[str, Any] = {"role": "assistant", "content": None}
            deltas = []
            for index, (name, arguments) in enumerate(self.calls):
                call = {
                    "index": index,
                    "id": "call_" + secrets.token_hex(12),
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }
                if index:
                    deltas.append({"tool_calls": [call]})
                else:
                    first.update(tool_calls=[call], refusal=None)
                deltas += [
                    {"tool_calls": [{"index": index, "function": {"arguments": p}}]}
                    for p in chunk_text(arguments)
                ]
        elif self.kind == "refusal":
            first = {"role": "assistant", "content": None, "refusal": ""}
            deltas = [{"refusal": p} for p in pieces]
        else:
            first = {"role": "assistant", "content": "", "refusal": None}
            deltas = [{"content": p} for p in pieces]
        frames = [writer.delta(first), *(writer.delta(d) for d in deltas)]
        frames.append(writer.delta({}, self.finish))
        if writer.include_usage:
            frames.append(writer.usage(*self._usage(body)))
        frames.append(_wire.DONE)
        return frames


class _FrameStream:
    """Sends frames with the step's timing and faults, and notices a client hang-up."""

    def __init__(
        self,
        frames: list[bytes],
        step: Step,
        record: RequestRecord,
        delay: float,
        content_type: str | None,
        hold: Callable[[str], Awaitable[None]],
        ended: Callable[[RequestRecord, Outcome], None],
    ) -> None:
        self.frames, self.step, self.record, self.delay = frames, step, record, delay
        self.content_type = content_type or "text/event-stream; charset=utf-8"
        self._hold, self._ended = hold, ended

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def stream_then_stop() -> None:
                await self._stream(send)
                group.cancel_scope.cancel()

            group.start_soon(stream_then_stop)
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

    async def _stream(self, send: Send) -> None:
        record, step = self.record, self.step
        fault_at = step.fault_after_chunks
        if fault_at is None:
            fault_at = len(self.frames) // 2
        headers = [(k.encode(), v.encode()) for k, v in _headers(step.headers).items()]
        headers.append((b"content-type", self.content_type.encode()))
        hold_at = step.hold_after_chunks
        if hold_at is not None and hold_at < 0:
            hold_at += len(self.frames)
        outcome: Outcome | None = None
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            if step.first_token_delay_s:
                await anyio.sleep(step.first_token_delay_s)
            for index, frame in enumerate(self.frames):
                if index == hold_at:
                    await self._hold(step.gate)
                if index == fault_at and step.fault == "stall":
                    await anyio.sleep(step.stall_s)
                elif index == fault_at and step.fault == "drop":
                    outcome = "dropped"
                    return  # no end of body: the server closes the connection mid-message
                elif index == fault_at and step.fault == "cut":
                    outcome = "cut"
                    break
                elif index:
                    # Even with no delay, yield so a client hang-up is noticed mid-stream.
                    await anyio.sleep(self.delay)
                await send({"type": "http.response.body", "body": frame, "more_body": True})
                record.chunks_sent += 1
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            outcome = outcome or "completed"
        finally:
            self._ended(record, outcome or "hung_up")
