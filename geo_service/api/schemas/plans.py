"""``/plans``: plans and their versions, evaluations, delineation, edits, diffs, adoption and copies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from .common import MAX_ID

MAX_HOUSEHOLDS = 10**7  # a households band beyond any community


class PlanInfo(BaseModel):
    id: int
    name: str
    version: int
    status: str = Field(description="draft | adopted | superseded")
    description: str | None = None
    adopted_at: str | None = None
    adopted_by: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    communities: int = 0
    etag: str


class PlanVersionInfo(BaseModel):
    version: int
    parent_version: int | None = None
    action: str
    params: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    created_by: str | None = None
    created_at: str | None = None
    adopted_at: str | None = None
    adopted_by: str | None = None


class Flag(BaseModel):
    code: str
    severity: Literal["error", "warning"]
    label_zh: str
    detail_zh: str | None = None


class CommunityFigures(BaseModel):
    code: str
    name: str
    street_code: str
    units: int
    households: int
    residents: int
    band_min: int
    band_max: int
    deviation_households: int = Field(
        description="Households below the minimum (negative) or above the maximum (positive); 0 inside the band"
    )
    in_band: bool
    contiguous: bool
    parts: int
    barrier_split: bool
    nested: bool
    area_km2: float | None = None
    perimeter_km: float | None = None
    polsby_popper: float | None = None
    convex_hull_ratio: float | None = None
    arterial_edges_crossed: int
    barrier_crossings_used: int
    has_station: bool | None = None
    station_min_walk_m: float | None = None
    station_reach_share: float | None = Field(
        None, description="Share of residents within the 5-minute walk of a community service station"
    )
    community_workers: float | None = None
    workers_needed: int
    households_per_worker: float | None = None
    norm_households_per_worker: float | None = None
    residents_moved_in: float | None = None
    flags: list[Flag]


class Evaluation(BaseModel):
    plan_id: int
    version: int
    totals: dict[str, Any]
    communities: list[CommunityFigures]


class BandProblem(BaseModel):
    street_code: str
    kind: str
    reason: str
    reason_zh: str
    reason_code: str | None = None
    code: str | None = None
    name: str | None = None
    households: int | None = None


class DelineateRequest(BaseModel):
    streets: list[str] | None = Field(None, description="Street codes (default: all streets)")
    households_min: int | None = Field(
        None, gt=0, le=MAX_HOUSEHOLDS, description="Band minimum (default: the norms' band)"
    )
    households_max: int | None = Field(None, gt=0, le=MAX_HOUSEHOLDS)
    k: int | None = Field(None, ge=1, description="Number of communities (one street only)")
    from_plan: str | None = Field(None, description="Existing plan (id or name) for modes closest / minimal_change")
    mode: Literal["fresh", "closest", "minimal_change"] | None = None
    name: str | None = Field(None, description="Name of the draft plan (default: 划分草案 <time>)")
    created_by: str | None = Field(None, description="Ignored: the token's user is recorded")
    save: bool = True
    background: bool = Field(
        False,
        description="Run as a background job: 202 with the job (GET /jobs/{id}: progress and stage in result, "
        "then the draft's plan_id)",
    )


class DelineateResult(BaseModel):
    plan_id: int | None
    name: str | None = None
    version: int | None
    mode: str
    seconds: float = Field(description="Time of the delineation itself (s)")
    problems: list[BandProblem]
    totals: dict[str, Any]
    communities: list[CommunityFigures]
    stats: dict[str, Any]


LonLat = Annotated[list[Annotated[float, Field(ge=-180, le=180)]], Field(min_length=2, max_length=2)]


class EditRequest(BaseModel):
    action: Literal["move", "merge", "split", "rename", "restore"] = Field(
        description="move | merge | split | rename | restore (the assignment of an earlier version: undo, redo)"
    )
    units: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        None, description="Population unit ids (move, split)"
    )
    to: str | None = Field(None, description="Target community code (move)")
    into: str | None = Field(None, description="Community that remains (merge)")
    from_: str | None = Field(None, alias="from", description="Community merged away (merge)")
    code: str | None = Field(None, description="Community split or renamed")
    new_code: str | None = None
    new_name: str | None = None
    name: str | None = Field(None, description="New name (rename)")
    line: list[LonLat] | None = Field(
        None,
        min_length=2,
        max_length=1000,
        description="split: the cut line as [lon, lat] points (EPSG:4326) instead of units; the side with fewer "
        "households becomes the new community",
    )
    version: int | None = Field(None, ge=1, le=MAX_ID, description="restore: the version whose assignment returns")
    locked: list[Annotated[str, Field(max_length=64)]] | None = Field(
        None, max_length=10_000, description="Codes of locked communities: an edit changing one is refused"
    )
    created_by: str | None = Field(None, description="Ignored: the token's user is recorded")

    model_config = {"populate_by_name": True}


class UnitChange(BaseModel):
    unit_id: int
    community_code: str | None = Field(None, description="The unit's community after the edit (null: none)")


class EditResult(BaseModel):
    plan_id: int
    version: int
    etag: str
    compute_ms: float = Field(description="Time to validate the edit and compute the touched communities' figures (ms)")
    removed: list[str]
    communities: list[CommunityFigures] = Field(description="New figures of the communities the edit touched")
    units: list[UnitChange] = Field([], description="Units whose community changed")
    features: dict[str, Any] = Field(
        {}, description="GeoJSON FeatureCollection (EPSG:4326) of the touched communities' new polygons, id = code"
    )


class UnitMove(BaseModel):
    unit_id: int | str
    source_id: str
    name: str | None = None
    from_code: str | None = None
    to_code: str | None = None
    residents: int
    households: int


class Flow(BaseModel):
    from_code: str
    to_code: str
    units: int
    residents: int
    households: int


class StreetMoves(BaseModel):
    street_code: str
    units: int
    residents: int
    households: int


class DiffResult(BaseModel):
    from_: dict[str, Any] = Field(alias="from")
    to: dict[str, Any]
    streets: list[StreetMoves] = Field([], description="Units and residents moved per street")
    units_moved: int
    residents_moved: int
    households_moved: int
    flows: list[Flow]
    moves: list[UnitMove]

    model_config = {"populate_by_name": True}


class AdoptRequest(BaseModel):
    adopted_by: str = Field(min_length=1, description="Who adopts (name / office)")


class AdoptResult(BaseModel):
    plan_id: int
    version: int
    adopted_at: str
    adopted_by: str
    superseded: list[dict[str, Any]]
    merged_from: dict[str, Any] | None = Field(
        None,
        description="When the draft covers only some streets: the adopted plan whose other streets were kept "
        "(id, name, communities_kept); the adopted version is the merged one",
    )


class CopyRequest(BaseModel):
    name: str = Field(min_length=1)
    created_by: str | None = Field(None, description="Ignored: the token's user is recorded")


class CopyResult(BaseModel):
    plan_id: int
    version: int
    name: str
    etag: str


class PlanUnit(BaseModel):
    unit_id: int = Field(description="The id edits take (``units`` of move and split)")
    source_id: str
    name: str | None = None
    street_code: str | None = Field(None, description="The street the unit nests in")
    households: int
    residents: int
    community_code: str | None = Field(None, description="Community of the unit in this version (null: unassigned)")
    community_name: str | None = None


class PlanUnits(BaseModel):
    plan_id: int
    name: str
    status: str
    version: int = Field(description="The version listed")
    current_version: int = Field(description="The plan's current version: edits send it as If-Match")
    etag: str = Field(description='The current version as the ETag edits send in If-Match, e.g. "v3"')
    community: str | None = Field(None, description="The community filter, if any")
    units: list[PlanUnit]


class CommunityDetail(BaseModel):
    plan_id: int
    version: int = Field(description="The version shown")
    current_version: int
    etag: str
    community: CommunityFigures
    unit_ids: list[int] = Field(description="Ids of the community's population units (as edits take them)")


class PreviewCommunity(BaseModel):
    code: str
    name: str | None = None
    street_code: str | None = None
    households: int
    residents: int


class AdoptionPreview(BaseModel):
    plan: dict[str, Any]
    adopted: dict[str, Any] | None = Field(None, description="The plan adopted now (None: none)")
    streets: list[str] = Field(description="Streets the plan covers: only their communities are replaced")
    communities_before: int
    communities_after: int
    communities_kept: int = Field(description="Communities of the adopted plan's other streets kept")
    added: list[PreviewCommunity]
    removed: list[PreviewCommunity]
    changed: list[PreviewCommunity] = Field(description="Communities kept by code whose units change")
    units_moved: int
    residents_moved: int
    households_moved: int
    moved_by_street: list[StreetMoves]
    units_unassigned: dict[str, int] = Field(description="Street code -> units left without a community")
    refused_zh: str | None = Field(None, description="Why adoption would be refused (None: it may go ahead)")


class Adoption(BaseModel):
    plan_id: int
    name: str
    version: int
    adopted_at: str | None = None
    adopted_by: str | None = None
    status: str = Field(description="The plan's status now: adopted or superseded")
    current: bool = Field(description="This adopted state is in force")
