"""JWT bearer-token verification for browser frontends behind a login.

A :class:`JwtVerifier` checks a token's signature and claims with PyJWT and
returns its ``sub``: the client id. The key is either a shared HS256 secret, or
the public keys an identity provider publishes as a JWKS document. A JWKS
verifier accepts only asymmetric algorithms (RS*, PS256, ES256, ES384) and
ignores symmetric keys in the set, so a public key can never be used as an HMAC
secret (algorithm confusion), and ``alg: none`` is refused by both kinds.

Every failure is an :class:`~bff.exceptions.UnauthenticatedError` with a short,
fixed message; the token is never echoed, logged or put into an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import jwt
from jwt.exceptions import InvalidSubjectError
from jwt.types import Options

from bff.exceptions import UnauthenticatedError
from bff.observe.logs import log_event

logger = logging.getLogger(__name__)

# Refused before any decoding: a browser's bearer token is well under 2 KiB.
MAX_TOKEN_BYTES = 8 * 1024
# A key set is a handful of keys; anything far larger is not one.
MAX_JWKS_BYTES = 1024 * 1024

SECRET_ALGORITHMS = ("HS256",)
JWKS_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384")
# Only public-key types: an "oct" key in a published set would be an HMAC secret.
_JWKS_KEY_TYPES = ("RSA", "EC")

_UNREACHABLE = "the key server could not be reached"

_MISSING_CLAIM = {
    "exp": "the token has no expiry",
    "sub": "the token has no subject",
    "aud": "the token has no audience",
    "iss": "the token has no issuer",
}


def _translate(exc: jwt.PyJWTError) -> UnauthenticatedError:
    """The client-facing error for a PyJWT failure: fixed text, never the token."""
    # Subclasses before their bases: InvalidSignatureError is a DecodeError.
    message = "the token is not valid"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        message = _MISSING_CLAIM.get(exc.claim, "the token lacks a required claim")
    elif isinstance(exc, jwt.ExpiredSignatureError):
        message = "the token has expired"
    elif isinstance(exc, jwt.ImmatureSignatureError):
        message = "the token is not valid yet"
    elif isinstance(exc, jwt.InvalidAudienceError):
        message = "the token's audience is not accepted"
    elif isinstance(exc, jwt.InvalidIssuerError):
        message = "the token's issuer is not accepted"
    elif isinstance(exc, InvalidSubjectError):
        message = "the token has no subject"
    elif isinstance(exc, jwt.InvalidAlgorithmError):
        message = "the token's algorithm is not accepted"
    elif isinstance(exc, jwt.InvalidSignatureError | jwt.InvalidKeyError):
        message = "the token's signature is not valid"
    elif isinstance(exc, jwt.DecodeError | jwt.InvalidIssuedAtError):
        message = "the token is malformed"
    return UnauthenticatedError(message)


class _KeyServerError(Exception):
    """The JWKS could not be fetched or held no usable key; the message says why."""


@dataclass(frozen=True)
class _KeySet:
    """The usable verification keys of one JWKS document."""

    keys: tuple[jwt.PyJWK, ...]
    by_kid: Mapping[str, jwt.PyJWK]

    @classmethod
    def parse(cls, document: object) -> _KeySet:
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise _KeyServerError("its answer is not a JWKS document")
        keys = tuple(key for key in map(_usable_key, entries) if key is not None)
        if not keys:
            raise _KeyServerError("its key set has no usable signature key")
        by_kid: dict[str, jwt.PyJWK] = {}
        for key in keys:
            if key.key_id is not None:
                by_kid.setdefault(key.key_id, key)
        return cls(keys, by_kid)

    def find(self, kid: str | None) -> jwt.PyJWK | None:
        """The key ``kid`` names; without a kid, the set's only key if it has one."""
        if kid is None:
            return self.keys[0] if len(self.keys) == 1 else None
        return self.by_kid.get(kid)


def _usable_key(entry: object) -> jwt.PyJWK | None:
    """``entry`` as a verification key, or None when it cannot or must not be used."""
    if not isinstance(entry, dict):
        return None
    operations = entry.get("key_ops", ["verify"])
    if (
        entry.get("use", "sig") != "sig"
        or not isinstance(operations, list)
        or "verify" not in operations
        or entry.get("kty") not in _JWKS_KEY_TYPES
        or entry.get("alg", JWKS_ALGORITHMS[0]) not in JWKS_ALGORITHMS
        or not isinstance(entry.get("kid", ""), str)
        # A published private key is compromised; never trust it.
        or "d" in entry
    ):
        return None
    try:
        key = jwt.PyJWK(entry)
    except jwt.PyJWTError:
        return None
    # PyJWK infers the algorithm from the curve when "alg" is absent (P-521 gives ES512),
    # and weak RSA keys would make PyJWT warn on every token.
    if key.algorithm_name not in JWKS_ALGORITHMS or key.Algorithm.check_key_length(key.key):
        return None
    return key


class JwtVerifier:
    """Verifies bearer JWTs against an HS256 ``secret`` or the keys at ``jwks_url``.

    Exactly one of ``secret`` and ``jwks_url`` must be given. ``exp`` and ``sub``
    are required; ``iss`` and ``aud`` are checked when ``issuer`` and ``audience``
    are set (and a token naming an audience is refused when none is set).
    ``leeway_s`` is the clock skew allowed on ``exp``, ``nbf`` and ``iat``.

    The key set is cached for ``jwks_ttl_s``; a token naming a key the cache does
    not hold triggers a refetch, at most once per ``jwks_min_refresh_s``, so a
    flood of made-up key ids cannot turn the BFF against the key server. When a
    refresh fails, the keys fetched before stay in use. ``clock`` (monotonic
    seconds) times the cache only; PyJWT checks the claims against wall time.
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway_s: float = 30.0,
        jwks_ttl_s: float = 300.0,
        jwks_min_refresh_s: float = 30.0,
        fetch_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (secret is None) == (jwks_url is None):
            raise ValueError("give exactly one of secret (HS256) and jwks_url")
        if secret is not None:
            _check_secret(secret)
        if jwks_url is not None:
            _check_url(jwks_url)
        if leeway_s < 0 or jwks_min_refresh_s < 0 or jwks_ttl_s <= 0 or fetch_timeout_s <= 0:
            raise ValueError("leeway and refresh interval must be >= 0, TTL and timeout > 0")
        self._secret = secret
        self._jwks_url = jwks_url
        self._algorithms = SECRET_ALGORITHMS if secret is not None else JWKS_ALGORITHMS
        self._issuer = issuer
        self._audience = audience
        self._leeway_s = leeway_s
        self._jwks_ttl_s = jwks_ttl_s
        self._jwks_min_refresh_s = jwks_min_refresh_s
        self._fetch_timeout_s = fetch_timeout_s
        self._clock = clock
        self._options: Options = {
            "require": ["exp", "sub"],
            "enforce_minimum_key_length": True,
        }
        self._client: httpx2.AsyncClient | None = None
        # One fetch at a time: concurrent verifications wait for it and share its keys.
        self._lock = asyncio.Lock()
        self._keyset: _KeySet | None = None
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._last_fetch_failed = False

    async def verify(self, token: str) -> str:
        """The token's ``sub`` (the client id) when the token is valid; raises
        :class:`~bff.exceptions.UnauthenticatedError` otherwise."""
        if len(token) > MAX_TOKEN_BYTES:
            raise UnauthenticatedError("the token is too large")
        if not token.isascii():
            raise UnauthenticatedError("the token is malformed")
        try:
            header = jwt.get_unverified_header(token)
            # Checked before choosing a key: the token's own "alg" never picks the algorithm.
            if header.get("alg") not in self._algorithms:
                raise UnauthenticatedError("the token's algorithm is not accepted")
            key: str | jwt.PyJWK
            if self._secret is not None:
                key = self._secret
            else:
                key = await self._jwks_key(header.get("kid"))
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options=self._options,
            )
        except jwt.PyJWTError as exc:
            raise _translate(exc) from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise UnauthenticatedError("the token has no subject")
        return subject

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _jwks_key(self, kid: str | None) -> jwt.PyJWK:
        """The key ``kid`` names, fetching the key set when it is stale or lacks it."""
        key = self._fresh_key(kid)
        if key is not None:
            return key
        async with self._lock:
            # Another verification may have fetched while this one waited.
            key = self._fresh_key(kid)
            if key is not None:
                return key
            now = self._clock()
            if self._attempted_at is None or now - self._attempted_at >= self._jwks_min_refresh_s:
                await self._refresh()
            # A stale set is still better than none while the key server is away.
            key = self._keyset.find(kid) if self._keyset is not None else None
            if key is not None:
                return key
            if self._keyset is None or self._last_fetch_failed:
                raise UnauthenticatedError(_UNREACHABLE)
            if kid is None:
                raise UnauthenticatedError("the token does not name its key")
            raise UnauthenticatedError("the token names an unknown key")

    def _fresh_key(self, kid: str | None) -> jwt.PyJWK | None:
        if self._keyset is None or self._fetched_at is None:
            return None
        if self._clock() - self._fetched_at >= self._jwks_ttl_s:
            return None
        return self._keyset.find(kid)

    async def _refresh(self) -> None:
        """Fetch the key set once; a failure is logged and leaves the cached set in place."""
        try:
            keyset = await self._download()
        except _KeyServerError as exc:
            self._attempted_at = self._clock()
            self._last_fetch_failed = True
            log_event(
                logger,
                "could not fetch the JWT key set",
                event="jwks_unavailable",
                level=logging.WARNING,
                url=self._jwks_url,
                reason=str(exc),
            )
            return
        self._keyset = keyset
        self._attempted_at = self._fetched_at = self._clock()
        self._last_fetch_failed = False

    async def _download(self) -> _KeySet:
        """GET and parse the JWKS; every way that fails is a :class:`_KeyServerError`."""
        assert self._jwks_url is not None
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=httpx2.Timeout(self._fetch_timeout_s))
        body = bytearray()
        try:
            # The client's timeout bounds each read; this bounds the whole fetch.
            async with (
                asyncio.timeout(self._fetch_timeout_s),
                self._client.stream(
                    "GET", self._jwks_url, headers={"accept": "application/json"}
                ) as response,
            ):
                if response.status_code != 200:
                    raise _KeyServerError(f"it answered HTTP {response.status_code}")
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise _KeyServerError(f"its answer is over {MAX_JWKS_BYTES} bytes")
        except TimeoutError as exc:
            raise _KeyServerError(f"no answer within {self._fetch_timeout_s:g} s") from exc
        except httpx2.HTTPError as exc:
            raise _KeyServerError(f"{type(exc).__name__}: {exc}") from exc
        try:
            document: Any = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise _KeyServerError("its answer is not JSON") from exc
        return _KeySet.parse(document)


def _check_url(url: str) -> None:
    """Refuse a JWKS URL the client could never fetch, at start-up rather than per token."""
    try:
        parsed = httpx2.URL(url)
    except httpx2.InvalidURL as exc:
        raise ValueError(f"jwks_url is not a valid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("jwks_url must be an http(s) URL with a host")


def _check_secret(secret: str) -> None:
    """Refuse secrets PyJWT would refuse or warn about on every token (RFC 7518 §3.2)."""
    algorithm = jwt.get_algorithm_by_name(SECRET_ALGORITHMS[0])
    try:
        prepared = algorithm.prepare_key(secret)
    except jwt.InvalidKeyError as exc:
        raise ValueError("the JWT secret must be a shared secret, not a PEM or SSH key") from exc
    if algorithm.check_key_length(prepared):
        raise ValueError("the JWT secret must be at least 32 bytes for HS256")
