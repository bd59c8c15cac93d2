"""Callers: how a configured client is described, and who a request turns out to be.

Plain values and parsing, no I/O: ``bff.api.auth`` decides who is calling.
Keys are never kept, only their SHA-256 digests; client ids name a client without
revealing its key or a token's subject.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from limits import RateLimitItem, parse
from pydantic import BaseModel, ConfigDict, Field, field_validator

MIN_KEY_CHARS = 16
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ClientSettings(BaseModel):
    """One ``[clients.NAME]`` entry of the config file: its key's digest and its limits
    (unset limits take the global defaults)."""

    model_config = ConfigDict(extra="forbid")

    key_sha256: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$",
        description="SHA-256 of the client's API key, hex (sha256sum of the key).",
    )
    rate_limit: str | None = None
    max_concurrent_runs: int | None = Field(default=None, ge=1)
    max_subscriptions: int | None = Field(default=None, ge=1)
    daily_tokens: int | None = Field(default=None, ge=1)
    daily_cost_usd: float | None = Field(default=None, gt=0)

    @field_validator("rate_limit")
    @classmethod
    def _rate_syntax(cls, value: str | None) -> str | None:
        parse_rate_limit(value)
        return value


def api_key_digest(entry: str) -> str:
    """The hex SHA-256 of a ``BFF_API_KEYS`` entry: ``sha256:<hex>`` is a digest given as
    it is; anything else is a key, hashed here."""
    if entry.startswith("sha256:"):
        digest = entry.removeprefix("sha256:").lower()
        if not _HEX64.match(digest):
            raise ValueError("a sha256: entry needs 64 hex digits")
        return digest
    if len(entry) < MIN_KEY_CHARS:
        raise ValueError(f"a key needs at least {MIN_KEY_CHARS} characters")
    return key_digest(entry)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_rate_limit(value: str | None) -> RateLimitItem | None:
    """``60/minute``, ``10/second``, ``1000/hour``...; ``none`` or empty: no limit.
    Raises ValueError for anything else."""
    if value is None or value.strip().lower() in ("", "none", "off"):
        return None
    try:
        return parse(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a rate such as 60/minute") from None


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """What one client may do at once and over time."""

    rate: RateLimitItem | None
    max_concurrent_runs: int
    max_subscriptions: int


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is: ``client`` keys budgets and logs; ``limiter_key`` keys the rate
    and concurrency limits (anonymous callers are told apart by address there)."""

    client: str
    limiter_key: str
    limits: ClientLimits
    authenticated: bool
