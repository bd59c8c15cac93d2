"""Security headers on every HTTP response: pure ASGI, so streams pass untouched.

A response that sets its own Content-Security-Policy (the demo page, GraphiQL)
keeps it; every other response (JSON, event streams, errors) gets one that
allows nothing, since none of them is meant to render as a page.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
_DEFAULTS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"content-security-policy", API_CSP),
)


class SecurityHeadersMiddleware:
    """Adds the headers of ``_DEFAULTS`` that a response does not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in _DEFAULTS if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, secured)
