"""OpenAI Chat Completions wire format: chunk frames, completions and error envelopes.

Byte for byte what api.openai.com sends: compact JSON, keys in OpenAI's order,
``"usage":null`` on every chunk and a final ``choices: []`` usage chunk when
``stream_options.include_usage`` is set, the ``obfuscation`` padding field, and
``data: [DONE]`` at the end.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from typing import Any

DONE = b"data: [DONE]\n\n"
FINGERPRINT = "fp_sim0000001"
_PAD = string.ascii_letters + string.digits

ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", None),
    409: ("conflict", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", None),
}
DEFAULT_MESSAGES: dict[int, str] = {
    400: "Invalid request.",
    401: "Incorrect API key provided: sk-sim. You can find your API key at https://platform.openai.com/account/api-keys.",
    403: "Country, region, or territory not supported.",
    404: "The model `{model}` does not exist or you do not have access to it.",
    429: "Rate limit reached for {model} on requests per min (RPM): Limit 3, Used 3, Requested 1.",
    500: "The server had an error processing your request. Sorry about that!",
    503: "The engine is currently overloaded, please try again later.",
}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def usage_object(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_id() -> str:
    return "chatcmpl-" + "".join(secrets.choice(_PAD) for _ in range(29))


class ChunkWriter:
    """Encodes the ``chat.completion.chunk`` frames of one streamed completion."""

    def __init__(self, model: str, *, include_usage: bool, obfuscate: bool = True) -> None:
        self.include_usage = include_usage
        self.obfuscate = obfuscate
        self._head = (
            f'{{"id":"{completion_id()}","object":"chat.completion.chunk",'
            f'"created":{int(time.time())},"model":{_dumps(model)},'
            f'"service_tier":"default","system_fingerprint":"{FINGERPRINT}","choices":'
        )
        self._pad_turn = 0

    def _tail(self) -> str:
        tail = ',"usage":null' if self.include_usage else ""
        if self.obfuscate:
            self._pad_turn += 1
            tail += f',"obfuscation":"{_PAD[: 3 + self._pad_turn * 7 % 12]}"'
        return tail + "}"

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = (
            f'[{{"index":0,"delta":{_dumps(delta)},"logprobs":null,'
            f'"finish_reason":{_dumps(finish_reason)}}}]'
        )
        return f"data: {self._head}{choice}{self._tail()}\n\n".encode()

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        usage = _dumps(usage_object(prompt_tokens, completion_tokens))
        pad = f',"obfuscation":"{_PAD[:11]}"' if self.obfuscate else ""
        return f'data: {self._head}[],"usage":{usage}{pad}}}\n\n'.encode()


def completion(
    model: str,
    message: dict[str, Any],
    finish_reason: str,
    prompt_tokens: int,
    completion_tokens: int,
) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` object."""
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": usage_object(prompt_tokens, completion_tokens),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def error_envelope(
    status: int,
    message: str | None = None,
    *,
    model: str = "",
    error_type: str | None = None,
    code: str | None = None,
    param: str | None = None,
) -> bytes:
    """OpenAI's ``{"error": {message, type, param, code}}`` body, 4-space indented as sent."""
    kind, default_code = ERROR_KINDS.get(status, ("invalid_request_error", None))
    text = message or DEFAULT_MESSAGES.get(status, f"Error {status}.").format(model=model)
    body = {
        "error": {
            "message": text,
            "type": error_type or kind,
            "param": param,
            "code": code if code is not None else default_code,
        }
    }
    return (json.dumps(body, indent=4) + "\n").encode()
