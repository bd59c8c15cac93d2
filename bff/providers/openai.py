"""The OpenAI provider: any OpenAI-compatible Chat Completions endpoint, streamed.

One ``AsyncOpenAI`` client per endpoint, reused for every request, with the
SDK's own retries off: the BFF's resilience layer owns retries. The SDK sends
the request (through its generic ``post``) and maps HTTP statuses to its
errors; the streamed body is read as raw SSE and decoded here, which costs a
fraction of building SDK chunk objects and lets the provider see a stream that
stops without a finish reason (the SDK ends such a stream quietly). An upstream
that answers the streaming request with ``application/json`` (one whole
``chat.completion``) is read as that answer, giving the events its stream would
have given.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from pydantic_core import from_json

from bff.exceptions import (
    BadResponseError,
    ClientRequestError,
    ContentFilteredError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    ServerError,
    StreamInterruptedError,
)
from bff.providers._network import upstream_client
from bff.providers._retry_after import parse_retry_after
from bff.providers._sse import SSEDecoder, coalesce
from bff.providers._strict_schema import strict_schema_of
from bff.providers._types import (
    ChatRequest,
    Finish,
    Message,
    ProviderEvent,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
    Usage,
)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for a connection, and for the next bytes of a response."""

    connect: float = 5.0
    read: float = 60.0


class OpenAIProvider:
    """Streams chat completions from one OpenAI-compatible endpoint."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        timeouts: Timeouts | None = None,
        max_tokens_field: str = "max_tokens",
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        t = timeouts or Timeouts()
        self._client = openai.AsyncOpenAI(
            # Local endpoints (Ollama, vLLM) need no key; the SDK insists on one.
            api_key=api_key or "no-key",
            base_url=base_url,
            max_retries=0,
            timeout=httpx2.Timeout(t.read, connect=t.connect),
            http_client=http_client or upstream_client(),
        )
        self._max_tokens_field = max_tokens_field

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]:
        params = self.request_params(request)
        try:
            # The SDK's generic post() skips create()'s parameter transformation,
            # a third of its per-request CPU; the params are plain JSON already.
            response = await self._client.post(
                "/chat/completions", cast_to=httpx2.Response, body=params, stream=True
            )
            try:
                reader = _reader(response.headers.get("content-type", ""))
                async for raw in response.aiter_bytes():
                    for event in reader.feed(raw):
                        yield event
                for event in reader.flush():
                    yield event
                finished = reader.finished
            finally:
                await response.aclose()
        except openai.APIStatusError as exc:
            raise _status_error(exc) from exc
        except openai.APITimeoutError as exc:
            raise ProviderTimeoutError("timed out connecting to the provider") from exc
        except openai.APIConnectionError as exc:
            raise ProviderConnectionError(f"could not reach the provider: {exc.message}") from exc
        except httpx2.TimeoutException as exc:
            raise ProviderTimeoutError("the provider stopped sending mid-stream") from exc
        except httpx2.RequestError as exc:
            raise StreamInterruptedError(f"the provider's stream broke: {exc}") from exc
        if not finished:
            raise StreamInterruptedError("the provider's stream ended without a finish reason")

    def request_params(self, request: ChatRequest) -> dict[str, Any]:
        """The Chat Completions parameters for ``request``."""
        params: dict[str, Any] = {
            "model": request.model,
            "messages": [_wire_message(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.max_tokens is not None:
            params[self._max_tokens_field] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        out = request.output
        if out.mode == "json_object":
            params["response_format"] = {"type": "json_object"}
        elif out.mode in ("json_schema", "tools"):
            if out.name is None or out.schema is None:
                raise ValueError(f"output mode {out.mode!r} needs a name and a schema")
            spec: dict[str, Any] = {"name": out.name}
            if out.description:
                spec["description"] = out.description
            if out.mode == "json_schema":
                spec.update(schema=strict_schema_of(out.schema), strict=True)
                params["response_format"] = {"type": "json_schema", "json_schema": spec}
            else:
                spec.update(parameters=strict_schema_of(out.schema), strict=True)
                params["tools"] = [{"type": "function", "function": spec}]
                params["tool_choice"] = {"type": "function", "function": {"name": out.name}}
        if request.tools:
            params["tools"] = [*params.get("tools", ()), *map(_wire_tool, request.tools)]
        return params

    async def aclose(self) -> None:
        await self._client.close()


def chunk_events(chunk: Mapping[str, Any]) -> Iterator[ProviderEvent]:
    """The events in one ``chat.completion.chunk``; only choice 0 is read."""
    error = chunk.get("error")
    if error is not None:
        raise _stream_error(error)
    for choice in chunk.get("choices") or ():
        if choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if content:
            yield TextDelta(content)
        refusal = delta.get("refusal")
        if refusal:
            yield RefusalDelta(refusal)
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            yield ToolCallDelta(
                call.get("index", 0), call.get("id"), function.get("name"),
                function.get("arguments") or "",
            )  # fmt: skip
        reason = choice.get("finish_reason")
        if reason == "content_filter":
            raise ContentFilteredError("the provider's content filter stopped the output")
        if reason:
            yield Finish(reason)
    usage = chunk.get("usage")
    if usage:
        yield Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)


def completion_events(body: bytes, media: str = "application/json") -> list[ProviderEvent]:
    """The events a stream of one whole ``chat.completion`` would have given, in the
    stream's order; an error envelope is an error reported by the provider, anything
    else that is not a completion a :class:`BadResponseError` naming ``media``."""
    try:
        completion = json.loads(body)
    except ValueError:
        completion = None
    if isinstance(completion, dict) and completion.get("error") is not None:
        raise _stream_error(completion["error"])
    chunk = _as_chunk(completion)
    if chunk is None:
        # The body's words stay out of the message: it may reach a log or a client.
        raise BadResponseError(
            f"the provider answered a streaming request with {media} that is not a "
            f"chat.completion ({len(body)} bytes)"
        )
    return list(chunk_events(chunk))


def _as_chunk(completion: object) -> dict[str, Any] | None:
    """A ``chat.completion`` as the one chunk its stream adds up to; None if it is not one."""
    if not isinstance(completion, dict):
        return None
    choices = completion.get("choices")
    if completion.get("object", "chat.completion") != "chat.completion" or not isinstance(
        choices, list
    ):
        return None
    choice = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), {})
    message, reason = choice.get("message"), choice.get("finish_reason")
    if not isinstance(message, dict) or not isinstance(reason, str) or not reason:
        return None
    content, refusal = message.get("content"), message.get("refusal")
    calls, usage = _call_deltas(message.get("tool_calls")), completion.get("usage")
    texts_ok = all(v is None or isinstance(v, str) for v in (content, refusal))
    if calls is None or not texts_ok or not _is_usage(usage):
        return None
    delta = {"content": content, "refusal": refusal, "tool_calls": calls}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": reason}], "usage": usage}


def _call_deltas(calls: object) -> list[dict[str, Any]] | None:
    """A message's tool calls as the stream's deltas (each with its index); None if they
    are not tool calls."""
    if calls is None:
        return []
    if not isinstance(calls, list):
        return None
    deltas = []
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
            or not isinstance(function.get("arguments"), str)
            or not isinstance(call.get("id"), str | None)
        ):
            return None
        deltas.append({"index": index, "id": call.get("id"), "function": function})
    return deltas


def _is_usage(usage: object) -> bool:
    if usage is None:
        return True
    return isinstance(usage, dict) and all(
        isinstance(usage.get(key), int | None) for key in ("prompt_tokens", "completion_tokens")
    )


MAX_WHOLE_BODY = 8 * 1024 * 1024
"""The most bytes of a whole JSON answer that are read (far above any completion's)."""


def _reader(content_type: str) -> _StreamReader | _WholeReader:
    """How to read a body of ``content_type``: SSE, unless it is one JSON document."""
    media = content_type.partition(";")[0].strip().lower()
    return _WholeReader(media) if media == "application/json" else _StreamReader()


class _StreamReader:
    """An SSE body: the events of each network read, coalesced."""

    def __init__(self) -> None:
        self._decoder, self._chunks = SSEDecoder(), _ChunkReader()

    @property
    def finished(self) -> bool:
        return self._chunks.finished

    def feed(self, raw: bytes) -> list[ProviderEvent]:
        return coalesce(self._chunks.events(self._decoder.feed(raw)))

    def flush(self) -> list[ProviderEvent]:
        return coalesce(self._chunks.events(self._decoder.flush()))


class _WholeReader:
    """A JSON body: one whole ``chat.completion``, read to its end, then its events."""

    def __init__(self, media: str) -> None:
        self._media = media
        self._parts: list[bytes] = []
        self._size = 0
        self.finished = False

    def feed(self, raw: bytes) -> list[ProviderEvent]:
        self._size += len(raw)
        if self._size > MAX_WHOLE_BODY:
            raise BadResponseError(
                f"the provider answered a streaming request with {self._media} "
                f"over {MAX_WHOLE_BODY} bytes"
            )
        self._parts.append(raw)
        return []

    def flush(self) -> list[ProviderEvent]:
        events = completion_events(b"".join(self._parts), self._media)
        self.finished = True
        return events


class _ChunkReader:
    """Turns the data of SSE events into provider events, up to ``[DONE]``."""

    def __init__(self) -> None:
        self.done = False
        self.finished = False

    def events(self, payloads: list[bytes]) -> list[ProviderEvent]:
        out: list[ProviderEvent] = []
        for data in payloads:
            # Past [DONE] the body is read to its end but ignored, so the
            # connection goes back to the pool instead of being closed.
            if self.done or data == b"[DONE]":
                self.done = True
                continue
            out.extend(chunk_events(_load_chunk(data)))
        self.finished = self.finished or any(type(e) is Finish for e in out)
        return out


def _load_chunk(data: bytes) -> Mapping[str, Any]:
    try:
        # pydantic-core's parser (jiter) reads a chunk in a third of json.loads' time.
        chunk = from_json(data)
    except ValueError as exc:
        raise ServerError(f"the provider sent an unreadable chunk: {data[:80]!r}") from exc
    if not isinstance(chunk, dict):
        raise ServerError(f"the provider sent a chunk that is not an object: {data[:80]!r}")
    return chunk


def _wire_tool(tool: ToolSpec) -> dict[str, Any]:
    function = {
        "name": tool.name,
        "description": tool.description,
        "parameters": strict_schema_of(tool.schema),
        "strict": True,
    }
    return {"type": "function", "function": function}


def _wire_message(message: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return wire


def _provider_message(body: object, fallback: str) -> tuple[str, str | None, str | None]:
    """The message, code and param of an error body (an OpenAI envelope or plain text)."""
    if isinstance(body, Mapping):
        message = body.get("message")
        code, param = body.get("code"), body.get("param")
        return (
            message if isinstance(message, str) and message else fallback,
            code if isinstance(code, str) else None,
            param if isinstance(param, str) else None,
        )
    if isinstance(body, str) and body.strip():
        return body.strip(), None, None
    return fallback, None, None


def _status_error(exc: openai.APIStatusError) -> ProviderError:
    status = exc.status_code
    message, code, param = _provider_message(exc.body, exc.message)
    if status == 429:
        return RateLimitedError(message, retry_after=parse_retry_after(exc.response.headers))
    if status == 408:
        return ProviderTimeoutError(message, status=status)
    if status == 409 or status >= 500:
        return ServerError(message, status=status)
    if code == "content_filter":
        return ContentFilteredError(message, status=status)
    return ClientRequestError(message, status=status, code=code, param=param)


def _stream_error(error: object) -> ProviderError:
    message, code, _ = _provider_message(error, "the provider reported an error mid-stream")
    if code == "rate_limit_exceeded":
        return RateLimitedError(message)
    return ServerError(message)
