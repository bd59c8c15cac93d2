"""The provider interface: stream one chat call as typed events, and close."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol

from bff.providers._types import ChatRequest, ProviderEvent


class Provider(Protocol):
    """A source of model output.

    ``stream`` is an async generator: iterate it for events, and close it
    (``contextlib.aclosing``) to abandon the call, which closes the upstream
    request at once. It raises only :class:`bff.exceptions.ProviderError`.
    """

    def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]: ...

    async def aclose(self) -> None: ...
