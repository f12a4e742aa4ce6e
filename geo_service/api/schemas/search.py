"""``/search``: ranked hits among the project's own named features (compounds, roads, facilities, streets…)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["facility", "shelter", "compound", "road", "street", "district", "residential_area", "building"]
Match = Literal["exact", "prefix", "substring", "subsequence", "pinyin_exact", "pinyin_prefix", "pinyin_substring"]


class SearchQueryEcho(BaseModel):
    q: str = Field(description="The query as given, without surrounding spaces")
    normalized: str = Field(description="The text matched: half-width, lower case, no spaces")
    limit: int
    kinds: list[Kind] | None = None
    near: list[float] | None = Field(None, description="[lon, lat], EPSG:4326")


class SearchHit(BaseModel):
    rank: int
    kind: Kind
    kind_zh: str
    layer: str = Field(description="The stored layer of the feature")
    id: int = Field(description="Feature id in the layer (roads: the smallest id among the road's segments)")
    name: str
    address: str | None = None
    category: str | None = Field(None, description="Facility category, shelter class, unit type, road class…")
    category_zh: str | None = None
    status: str | None = None
    feature_count: int = Field(description="Features behind the hit (roads: segments of that name; else 1)")
    lon: float = Field(description="A point on the feature (representative point), EPSG:4326")
    lat: float
    match: Match = Field(description="How the text matched, best first: exact, prefix, substring, subsequence, pinyin")
    matched_field: Literal["name", "address", "category"]
    distance_m: float | None = Field(None, description="Straight-line distance from `near`, metres")


class SearchResponse(BaseModel):
    query: SearchQueryEcho
    count: int
    results: list[SearchHit]
