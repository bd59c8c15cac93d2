"""The errors llm-bff raises, in one place.

    BFFError
    ├── ConfigError                  a setting is missing or malformed
    └── ProviderError                a model provider failed a call
        ├── RateLimitedError         429; carries the parsed retry-after delay
        ├── ServerError              5xx, or an error reported inside a stream
        ├── ProviderTimeoutError     connect or read timed out
        ├── ProviderConnectionError  could not connect, or the connection broke
        │   └── StreamInterruptedError  the stream ended before a finish reason
        ├── ContentFilteredError     the provider's content filter stopped the output
        └── ClientRequestError       400/401/403/404/422 (and other 4xx): never retried

Provider adapters translate their SDK's exceptions into these at the edge, with
``raise ... from exc``; nothing above the provider layer sees an SDK exception.
"""

from __future__ import annotations

from typing import ClassVar


class BFFError(Exception):
    """Base class for every error llm-bff raises on purpose."""


class ConfigError(BFFError):
    """A setting is missing or malformed; ``setting`` names it."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.message = message


class ProviderError(BFFError):
    """A provider call failed; ``retryable`` says whether trying again may help."""

    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RateLimitedError(ProviderError):
    """The provider answered 429; ``retry_after`` is its requested delay in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class ServerError(ProviderError):
    """The provider failed on its side (5xx, or an error event inside a stream)."""


class ProviderTimeoutError(ProviderError):
    """Connecting to the provider, or waiting for its next bytes, timed out."""


class ProviderConnectionError(ProviderError):
    """The connection to the provider could not be made or broke."""


class StreamInterruptedError(ProviderConnectionError):
    """The stream ended without a finish reason: a dropped upstream, not a clean end."""


class ContentFilteredError(ProviderError):
    """The provider's content filter withheld or stopped the output."""

    retryable: ClassVar[bool] = False


class ClientRequestError(ProviderError):
    """The provider rejected the request itself (4xx); retrying cannot help."""

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
