"""Placeholder router, filled in by its issue."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["公平 fairness"])
