"""Structured logs: one JSON object a line, with the request id and run id of the
line's request and run.

What is logged is the shape of the work (tasks, routes, kinds, counts, times),
never prompts, outputs or their PII: error messages in logs name the kind of a
failure, and the access line carries the path without its query string.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str | None] = ContextVar("bff_request_id", default=None)
run_id: ContextVar[str | None] = ContextVar("bff_run_id", default=None)
logger = logging.getLogger(__name__)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


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


class RequestIdMiddleware:
    """Give every HTTP request and WebSocket a request id (the caller's ``X-Request-ID``
    when it is a plain token, else a new one), echo it in the response, and log one
    access line per request: method, path, status, duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _CLIENT_ID.match(given) else uuid.uuid4().hex
        request_id.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log_event(
                logger,
                "request",
                event="access",
                method=scope.get("method", "WS"),
                path=scope["path"],
                status=status or None,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
