"""llm-bff: a backend-for-frontend that treats an LLM as a volatile microservice.

The user surface: define ``Task``s (with ``Tool``s) in a ``TaskRegistry``, build the
app with ``create_app(Settings(...), tasks)``, and read what runs report (events
and errors). ``Settings`` and ``create_app`` load on first use, so importing the
package loads no web framework.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from bff.exceptions import (
    BadResponseError,
    BFFError,
    BudgetExceededError,
    CircuitOpenError,
    ClientLimitError,
    ClientRequestError,
    ConfigError,
    ContentFilteredError,
    ContextError,
    DeadlineExceededError,
    InputRejectedError,
    MalformedOutputError,
    OutputError,
    OutputValidationError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    RefusalError,
    SchemaViolationError,
    ServerError,
    StreamInterruptedError,
    ToolCallError,
    ToolDepthExceededError,
    TruncatedOutputError,
    UnauthenticatedError,
)
from bff.run import (
    CallingTools,
    Completed,
    ErrorCode,
    Failed,
    Fallback,
    FallingBack,
    Progress,
    Retrying,
    RunEvent,
    RunMeta,
    Started,
)
from bff.tasks import Task, TaskRegistry
from bff.tools import Tool

if TYPE_CHECKING:
    from bff.app import create_app
    from bff.config import Settings

    __version__: str

_LAZY = {"Settings": "bff.config", "create_app": "bff.app"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    if name == "__version__":  # from the package's metadata, the one place it is written
        return import_module("importlib.metadata").version("llm-bff")
    raise AttributeError(f"module 'bff' has no attribute {name!r}")


__all__ = [
    "BFFError",
    "BadResponseError",
    "BudgetExceededError",
    "CallingTools",
    "CircuitOpenError",
    "ClientLimitError",
    "ClientRequestError",
    "Completed",
    "ConfigError",
    "ContentFilteredError",
    "ContextError",
    "DeadlineExceededError",
    "ErrorCode",
    "Failed",
    "Fallback",
    "FallingBack",
    "InputRejectedError",
    "MalformedOutputError",
    "OutputError",
    "OutputValidationError",
    "Progress",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitedError",
    "RefusalError",
    "Retrying",
    "RunEvent",
    "RunMeta",
    "SchemaViolationError",
    "ServerError",
    "Settings",
    "Started",
    "StreamInterruptedError",
    "Task",
    "TaskRegistry",
    "Tool",
    "ToolCallError",
    "ToolDepthExceededError",
    "TruncatedOutputError",
    "UnauthenticatedError",
    "__version__",
    "create_app",
]
