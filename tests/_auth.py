"""Users and bearer tokens for tests that write through the API."""

from __future__ import annotations

import uuid


def token_headers(store, role: str = "admin", name: str | None = None) -> dict[str, str]:
    """Create a user with ``role`` in ``store``; return its ``Authorization`` header."""
    from geo_service.core.auth import add_user

    token = add_user(store, name or f"{role}-{uuid.uuid4().hex[:8]}", role)
    return {"Authorization": f"Bearer {token}"}
