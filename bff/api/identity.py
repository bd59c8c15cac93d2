"""Who is calling: API keys and JWT bearer tokens, checked before any work.

A request presents ``Authorization: Bearer <key or JWT>`` or ``X-API-Key: <key>``;
a WebSocket may present either in its upgrade headers or in ``connection_init``'s
payload. Keys are compared by SHA-256 digest, so the settings may hold
``sha256:<hex>`` instead of a key. With no credentials configured everyone is
the anonymous client, and a key a caller invents names nothing: budgets cannot
be dodged by rotating keys. Once keys or JWT are configured, a request without
valid credentials is refused, unless anonymous callers are allowed on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping

from bff.api.jwt_auth import JwtVerifier
from bff.budget import ANONYMOUS
from bff.clients import ClientLimits, Principal, api_key_digest, key_digest, parse_rate_limit
from bff.config import Settings
from bff.exceptions import UnauthenticatedError

MAX_CREDENTIAL_CHARS = 8192
_PAYLOAD_KEYS = ("authorization", "x-api-key", "apikey", "api_key")


def header_credential(headers: Mapping[str, str]) -> str | None:
    """The key or token of ``Authorization: Bearer`` or else ``X-API-Key``, if any."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key", "").strip() or None


def payload_credential(payload: Mapping[str, object]) -> str | None:
    """The credential of a ``connection_init`` payload: ``{"Authorization": "Bearer …"}``,
    ``{"x-api-key": …}`` or ``{"apiKey": …}`` (names in any case)."""
    fields = {str(k).lower(): v for k, v in payload.items() if isinstance(v, str)}
    found = {name: fields[name] for name in _PAYLOAD_KEYS if name in fields}
    if "authorization" in found:
        return header_credential({"authorization": found["authorization"]})
    return next((value.strip() for value in found.values() if value.strip()), None)


class Authenticator:
    """Turns a credential (or none) into a ``Principal``, or raises UnauthenticatedError."""

    def __init__(self, settings: Settings, jwt: JwtVerifier | None = None) -> None:
        self.configured = settings.authentication_configured
        self.anonymous_allowed = settings.allow_anonymous
        self.defaults = ClientLimits(
            parse_rate_limit(settings.rate_limit),
            settings.max_concurrent_runs,
            settings.max_subscriptions,
        )
        self._keys: dict[str, Principal] = {}
        for key in settings.api_keys:
            digest = api_key_digest(key.get_secret_value())
            client = "key:" + digest[:16]
            self._keys[digest] = Principal(client, client, self.defaults, authenticated=True)
        self.daily: dict[str, tuple[int | None, float | None]] = {}
        """Per-client daily token and cost limits that override the global ones."""
        for name, entry in settings.clients.items():
            client = "client:" + name
            limits = ClientLimits(
                parse_rate_limit(entry.rate_limit) if entry.rate_limit else self.defaults.rate,
                entry.max_concurrent_runs or self.defaults.max_concurrent_runs,
                entry.max_subscriptions or self.defaults.max_subscriptions,
            )
            self._keys[entry.key_sha256.lower()] = Principal(
                client, client, limits, authenticated=True
            )
            self.daily[client] = (
                entry.daily_tokens or settings.client_daily_tokens,
                entry.daily_cost_usd or settings.client_daily_cost_usd,
            )
        self._jwt = jwt
        if jwt is None and (settings.jwt_secret is not None or settings.jwt_jwks_url):
            secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
            self._jwt = JwtVerifier(
                secret=secret,
                jwks_url=settings.jwt_jwks_url,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
            )

    def anonymous(self, address: str) -> Principal:
        """The anonymous client; its limits are kept per address."""
        return Principal(ANONYMOUS, f"{ANONYMOUS}:{address}", self.defaults, authenticated=False)

    async def authenticate(self, credential: str | None, address: str) -> Principal:
        """Who presents ``credential`` (None: nothing presented) from ``address``."""
        if not self.configured:
            return self.anonymous(address)
        if not credential:
            if self.anonymous_allowed:
                return self.anonymous(address)
            raise UnauthenticatedError(
                "credentials are required: send Authorization: Bearer <key or token>, "
                "or X-API-Key: <key>"
            )
        if len(credential) > MAX_CREDENTIAL_CHARS:
            raise UnauthenticatedError("the credential is too long")
        if self._jwt is not None and credential.count(".") == 2:
            subject = await self._jwt.verify(credential)
            client = "jwt:" + key_digest(subject)[:16]
            return Principal(client, client, self.defaults, authenticated=True)
        principal = self._keys.get(key_digest(credential))
        if principal is None:
            raise UnauthenticatedError("the API key is not valid")
        return principal

    async def aclose(self) -> None:
        if self._jwt is not None:
            await self._jwt.aclose()
