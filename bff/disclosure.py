"""What a client may read about a failure.

Two rules. A provider's words never reach a client: an upstream error body can
carry an organization id, a fragment of a key, or PII the upstream echoed, so
provider errors are described by their kind and status only (the full text goes
to the server log, redacted). And in production a client reads only a fixed,
helpful sentence per error code or attempt kind; the BFF's own details (which
schema path failed, which budget is short) are for development.
"""

from __future__ import annotations

from bff.exceptions import BFFError, ProviderError, RefusalError
from bff.run import ErrorCode

_PROVIDER_KINDS = {
    "rate_limited": "the provider is rate-limiting requests",
    "server_error": "the provider failed on its side",
    "timeout": "the provider did not answer in time",
    "connection": "the provider could not be reached",
    "interrupted": "the provider's stream ended before it finished",
    "content_filter": "the provider's content filter stopped the output",
    "client_error": "the provider refused the request",
    "bad_response": "the provider's answer could not be read",
}

CODE_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.INPUT_REJECTED: "the input was rejected; correct it and try again",
    ErrorCode.VALIDATION_FAILED: "the model's answers did not match the expected shape",
    ErrorCode.PROVIDER_UNAVAILABLE: "the model provider is unavailable; try again later",
    ErrorCode.RATE_LIMITED: "too many requests; try again after the retry-after delay",
    ErrorCode.BUDGET_EXCEEDED: "the token or spending budget does not cover this request",
    ErrorCode.REFUSED: "the model declined to answer",
    ErrorCode.TIMEOUT: "the model did not answer in time; try again",
    ErrorCode.CANCELLED: "the run was cancelled before it finished",
    ErrorCode.TOOL_DEPTH_EXCEEDED: "the model needed more tool rounds than allowed",
}

KIND_MESSAGES = {
    **_PROVIDER_KINDS,
    "malformed": "the output was not valid JSON",
    "truncated": "the output ended before the JSON closed",
    "schema_violation": "the output did not match the schema",
    "validation": "the output failed validation",
    "refused": "the model declined to answer",
    "tool_error": "a tool call failed",
    "deadline": "the request deadline passed",
    "circuit_open": "the route's circuit is open",
    "budget_exceeded": "the budget does not cover the call",
}


def public_message(error: BFFError) -> str:
    """``error`` in the BFF's own words: a provider error by kind and status, a refusal
    without the model's text, anything else as the BFF worded it."""
    if isinstance(error, ProviderError):
        text = _PROVIDER_KINDS.get(error.kind, "the provider call failed")
        return f"{text} (HTTP {error.status})" if error.status else text
    if isinstance(error, RefusalError):
        return KIND_MESSAGES["refused"]
    return str(error)


def client_message(code: ErrorCode, message: str, *, detailed: bool) -> str:
    """The message of a run's error code as a client reads it. Input rejections keep
    their detail everywhere: it is about the client's own input."""
    if detailed or code is ErrorCode.INPUT_REJECTED:
        return message
    return CODE_MESSAGES[code]


def attempt_message(kind: str, message: str, *, detailed: bool) -> str:
    """A failed attempt's message as a client reads it."""
    return message if detailed else KIND_MESSAGES.get(kind, "the attempt failed")
