"""Who is calling, for budgets: the API key a request carries, or anonymous.

The BFF does not authenticate: the key only names whose daily budget a request
spends (put the BFF behind the gateway that checks keys). Only a digest of the
key is kept.
"""

from __future__ import annotations

from collections.abc import Mapping

from bff.budget import client_id


def request_client(headers: Mapping[str, str]) -> str:
    """``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; anonymous without one."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else ""
    return client_id(key or headers.get("x-api-key", "").strip() or None)
