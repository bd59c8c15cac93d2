"""Structured logs: one JSON object a line, with the request id and run id of the
line's request and run, written through ``log_event``.

What is logged is the shape of the work (tasks, routes, kinds, counts, times),
never prompts or outputs; a provider's error text is logged with PII redacted,
and the access line carries the path without its query string.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("bff_request_id", default=None)
run_id: ContextVar[str | None] = ContextVar("bff_run_id", default=None)


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "request_id", "run_id", ...fields}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, var in (("request_id", request_id), ("run_id", run_id)):
            value = getattr(record, key, None) or var.get()
            if value:
                entry[key] = value
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_event(
    logger: logging.Logger,
    message: str,
    *,
    event: str,
    level: int = logging.INFO,
    run_id: str | None = None,
    **fields: Any,
) -> None:
    """Log one structured line: ``message``, with ``event`` and ``fields`` as its keys
    (and ``run_id`` when the line is about a run other than the current one)."""
    extra: dict[str, Any] = {"fields": {"event": event, **fields}}
    if run_id is not None:
        extra["run_id"] = run_id
    logger.log(level, message, extra=extra)


def configure_logging(level: str) -> None:
    """Send every logger (uvicorn's too) to stderr as JSON lines at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
