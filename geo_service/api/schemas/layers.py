"""``/layers``: single-feature edits (the layer list, features and imports use :mod:`.common`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class FeatureIn(BaseModel):
    """A GeoJSON Feature in EPSG:4326; ``properties.source_id`` is the stable id (made up if absent)."""

    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any]
    properties: dict[str, Any] = Field(default_factory=dict)


class FeaturePatch(BaseModel):
    """Properties to change (others keep their values) and/or a new geometry (EPSG:4326)."""

    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class FeatureEdit(BaseModel):
    id: int
    source_id: str
    changed: list[str] | None = Field(None, description="Fields changed (update)")
