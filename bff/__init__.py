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
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    ServerError,
    StreamInterruptedError,
)
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

__all__ = [
    "BFFError",
    "ChatRequest",
    "ClientRequestError",
    "ConfigError",
    "ContentFilteredError",
    "DemoProvider",
    "Endpoint",
    "EndpointSettings",
    "FaultProfile",
    "Finish",
    "Message",
    "OpenAIProvider",
    "OutputSpec",
    "Provider",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderEvent",
    "ProviderTimeoutError",
    "RateLimitedError",
    "RefusalDelta",
    "Route",
    "ServerError",
    "Settings",
    "StreamInterruptedError",
    "TextDelta",
    "Timeouts",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "__version__",
    "create_app",
    "load_settings",
    "parse_route",
]
