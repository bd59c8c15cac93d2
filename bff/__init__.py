"""llm-bff: a backend-for-frontend that treats an LLM as a volatile microservice."""

from __future__ import annotations

__version__ = "0.1.0"
