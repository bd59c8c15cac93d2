"""llm-bff: a backend-for-frontend that treats an LLM as a volatile microservice."""

from __future__ import annotations

__version__ = "0.1.0"

from bff.app import create_app
from bff.config import Endpoint, EndpointSettings, Settings, load_settings
from bff.exceptions import (
    BFFError,
    ClientRequestError,
    ConfigError,
    ContentFilteredError,
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
    TruncatedOutputError,
)
from bff.pipeline import Pipeline
from bff.providers._types import (
    ChatRequest,
    Finish,
    Message,
    OutputSpec,
    ProviderEvent,
    RefusalDelta,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from bff.providers.base import Provider
from bff.providers.demo import DemoProvider, FaultProfile
from bff.providers.openai import OpenAIProvider, Timeouts
from bff.routes import Route, parse_route
from bff.run import (
    AttemptRecord,
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
from bff.streaming.parser import JsonStreamParser
from bff.streaming.schema import compile_model
from bff.tasks import Task, TaskRegistry, load_tasks

__all__ = [
    "AttemptRecord",
    "BFFError",
    "ChatRequest",
    "ClientRequestError",
    "Completed",
    "ConfigError",
    "ContentFilteredError",
    "DemoProvider",
    "Endpoint",
    "EndpointSettings",
    "ErrorCode",
    "Failed",
    "Fallback",
    "FallingBack",
    "FaultProfile",
    "Finish",
    "JsonStreamParser",
    "MalformedOutputError",
    "Message",
    "OpenAIProvider",
    "OutputError",
    "OutputSpec",
    "OutputValidationError",
    "Pipeline",
    "Progress",
    "Provider",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderEvent",
    "ProviderTimeoutError",
    "RateLimitedError",
    "RefusalDelta",
    "RefusalError",
    "Retrying",
    "Route",
    "RunEvent",
    "RunMeta",
    "SchemaViolationError",
    "ServerError",
    "Settings",
    "Started",
    "StreamInterruptedError",
    "Task",
    "TaskRegistry",
    "TextDelta",
    "Timeouts",
    "ToolCall",
    "ToolCallDelta",
    "TruncatedOutputError",
    "Usage",
    "__version__",
    "compile_model",
    "create_app",
    "load_settings",
    "load_tasks",
    "parse_route",
]
