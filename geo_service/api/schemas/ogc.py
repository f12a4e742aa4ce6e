"""OGC API - Features (``/ogc``): landing page, conformance, collections, features, and their error answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .common import Error, Link

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


class LandingPage(BaseModel):
    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    conforms_to: list[str] = Field(alias="conformsTo")


class Extent(BaseModel):
    spatial: dict[str, Any] | None = None


class CollectionInfo(BaseModel):
    id: str
    title: str
    description: str
    links: list[Link]
    item_type: str = Field("feature", alias="itemType")
    crs: list[str]
    storage_crs: str = Field(CRS84, alias="storageCrs")
    extent: Extent | None = None


class Collections(BaseModel):
    links: list[Link]
    collections: list[CollectionInfo]


class OGCFeature(BaseModel):
    type: str = "Feature"
    id: int | str
    geometry: dict[str, Any] | None
    properties: dict[str, Any]
    links: list[Link] | None = None


class OGCFeatureCollection(BaseModel):
    type: str = "FeatureCollection"
    features: list[OGCFeature]
    links: list[Link]
    number_matched: int = Field(alias="numberMatched")
    number_returned: int = Field(alias="numberReturned")
    time_stamp: str = Field(alias="timeStamp")


OGC_ERRORS = {
    400: {"model": Error, "description": "Invalid query parameter (bbox, crs, limit...)"},
    404: {"model": Error, "description": "Unknown collection or feature"},
    503: {"model": Error, "description": "Database unavailable"},
}
