"""``/scenarios``: named what-if change sets over the current layers, their runs and comparisons (issue 17)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["scenarios"])
