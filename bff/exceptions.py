"""The errors llm-bff raises, in one place.

    BFFError
    ├── ConfigError                  a setting is missing or malformed
    ├── ContextError                 a corpus or its search index cannot be read or written
    ├── InputRejectedError           an input over a limit, or not valid text
    ├── UnauthenticatedError         missing, malformed, expired or unknown credentials
    ├── ClientLimitError             a client is over its request rate or concurrency limit
    ├── DeadlineExceededError        the request's overall deadline passed
    ├── CircuitOpenError             every route's circuit breaker is open
    ├── OutputError                  the model's output cannot become a valid result
    │   ├── MalformedOutputError     not JSON, or text around the JSON that is not allowed
    │   ├── TruncatedOutputError     the JSON never closed (stream end, max_tokens)
    │   ├── SchemaViolationError     the JSON so far breaks the schema; carries the path
    │   ├── OutputValidationError    the closed object failed Pydantic validation
    │   └── RefusalError             the model refused to answer
    └── ProviderError                a model provider failed a call
        ├── RateLimitedError         429; carries the parsed retry-after delay
        ├── ServerError              5xx, or an error reported inside a stream
        ├── ProviderTimeoutError     connect or read timed out
        ├── ProviderConnectionError  could not connect, or the connection broke
        │   └── StreamInterruptedError  the stream ended before a finish reason
        ├── ContentFilteredError     the provider's content filter stopped the output
        ├── BadResponseError         a JSON answer that is not a chat completion: never retried
        └── ClientRequestError       400/401/403/404/422 (and other 4xx): never retried

Provider adapters translate their SDK's exceptions into these at the edge, with
``raise ... from exc``; nothing above the provider layer sees an SDK exception.
"""

from __future__ import annotations

from typing import ClassVar


class BFFError(Exception):
    """Base class for every error llm-bff raises on purpose; ``kind`` is a short label."""

    kind: ClassVar[str] = "error"


class ConfigError(BFFError):
    """Settings are missing or malformed: ``problems`` lists each (setting, message);
    ``setting`` and ``message`` are the first."""

    def __init__(self, setting: str, message: str, *more: tuple[str, str]) -> None:
        self.problems = [(setting, message), *more]
        super().__init__("; ".join(f"{name}: {text}" for name, text in self.problems))
        self.setting = setting
        self.message = message


class ContextError(BFFError):
    """A corpus folder or its search index cannot be used; the message names the path
    and what is wrong with it (missing, not a folder, not writable, no FTS5)."""

    kind: ClassVar[str] = "context"


class InputRejectedError(BFFError):
    """The input is over one of the task's limits, or is not valid text."""

    kind: ClassVar[str] = "input_rejected"


class UnauthenticatedError(BFFError):
    """The caller's credentials are missing, malformed, expired or unknown; the message
    says which, without echoing the credential."""

    kind: ClassVar[str] = "unauthenticated"


class ClientLimitError(BFFError):
    """A client is over one of its own limits; ``limit`` names it (rate, runs or
    subscriptions) and ``retry_after`` says when trying again may succeed (seconds)."""

    kind: ClassVar[str] = "client_limit"

    def __init__(self, message: str, *, limit: str, retry_after: float) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after = retry_after


class DeadlineExceededError(BFFError):
    """The request's overall deadline passed before any attempt succeeded."""

    kind: ClassVar[str] = "deadline"


class BudgetExceededError(BFFError):
    """A call the remaining token or cost budget cannot cover; it was not made.
    ``budget`` is request_tokens, client_tokens, client_cost, or budget_store (the
    shared ledger on Redis did not answer: budgets fail closed)."""

    kind: ClassVar[str] = "budget_exceeded"

    def __init__(self, message: str, budget: str) -> None:
        super().__init__(message)
        self.budget = budget


class ToolDepthExceededError(BFFError):
    """The model asked for another round of tool calls past the task's depth limit."""

    kind: ClassVar[str] = "tool_depth_exceeded"


class CircuitOpenError(BFFError):
    """Every route was skipped: their circuit breakers are open."""

    kind: ClassVar[str] = "circuit_open"


class ProviderError(BFFError):
    """A provider call failed; ``retryable`` says whether trying again may help."""

    kind: ClassVar[str] = "provider_error"

    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RateLimitedError(ProviderError):
    """The provider answered 429; ``retry_after`` is its requested delay in seconds."""

    kind: ClassVar[str] = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class ServerError(ProviderError):
    """The provider failed on its side (5xx, or an error event inside a stream)."""

    kind: ClassVar[str] = "server_error"


class ProviderTimeoutError(ProviderError):
    """Connecting to the provider, or waiting for its next bytes, timed out."""

    kind: ClassVar[str] = "timeout"


class ProviderConnectionError(ProviderError):
    """The connection to the provider could not be made or broke."""

    kind: ClassVar[str] = "connection"


class StreamInterruptedError(ProviderConnectionError):
    """The stream ended without a finish reason: a dropped upstream, not a clean end."""

    kind: ClassVar[str] = "interrupted"


class ContentFilteredError(ProviderError):
    """The provider's content filter withheld or stopped the output."""

    kind: ClassVar[str] = "content_filter"

    retryable: ClassVar[bool] = False


class BadResponseError(ProviderError):
    """The provider answered with a body that is not a chat completion (a JSON object of
    another shape, where a stream or a whole ``chat.completion`` was due); retrying
    cannot help."""

    kind: ClassVar[str] = "bad_response"

    retryable: ClassVar[bool] = False


class ClientRequestError(ProviderError):
    """The provider rejected the request itself (4xx); retrying cannot help."""

    kind: ClassVar[str] = "client_error"

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.code = code
        self.param = param


class OutputError(BFFError):
    """The model's output cannot become a valid result; ``kind`` names the failure."""

    kind: ClassVar[str] = "output"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedOutputError(OutputError):
    """The output is not JSON, or has text around the JSON that is not allowed."""

    kind: ClassVar[str] = "malformed"


class TruncatedOutputError(OutputError):
    """The JSON never closed: the stream ended or the model ran out of tokens."""

    kind: ClassVar[str] = "truncated"


class SchemaViolationError(OutputError):
    """The JSON so far can no longer match the schema; ``path`` says where."""

    kind: ClassVar[str] = "schema_violation"

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class OutputValidationError(OutputError):
    """The closed object failed Pydantic validation; ``errors`` are one line each."""

    kind: ClassVar[str] = "validation"

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class RefusalError(OutputError):
    """The model refused; ``message`` is its refusal."""

    kind: ClassVar[str] = "refused"


class ToolCallError(OutputError):
    """The model called a tool that does not exist or with invalid arguments, or the tool
    failed; the message goes back to the model."""

    kind: ClassVar[str] = "tool_error"
