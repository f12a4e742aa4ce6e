"""FastAPI dependencies: the store of the running app."""

from __future__ import annotations

from fastapi import Request

from ..storage import Store


def get_store(request: Request) -> Store:
    return request.app.state.store
