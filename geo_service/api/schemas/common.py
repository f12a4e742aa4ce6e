"""What every router shares: the GeoJSON and error models, the error answers, the id limits, the export media types.

English snake_case fields throughout.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from ...core.geojson import GEOJSON_MEDIA_TYPE


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# A stored time: SpatiaLite gives it back without a zone; it is UTC (RFC 3339 "date-time" needs the offset).
UTCDateTime = Annotated[datetime, AfterValidator(_utc)]


class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: int | str
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    layer: str
    crs: str = Field(description="CRS of the coordinates, e.g. EPSG:4326 (x = longitude, y = latitude)")
    number_matched: int = Field(alias="numberMatched")
    number_returned: int = Field(alias="numberReturned")
    links: list[Link]
    features: list[Feature]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    backend: str | None = None
    spatial_version: str | None = None
    schema_revision: str | None = None
    synthetic_data: bool = False
    message: str | None = None
    redis: Literal["ok", "unavailable"] | None = Field(
        None, description="Shared state (GEO_REDIS_URL): absent when the service runs without Redis"
    )
    warnings_zh: list[str] = Field(default_factory=list, description="Degraded but answering (e.g. Redis down)")


class LayerInfo(BaseModel):
    name: str
    label_zh: str
    geometry_types: list[str]
    importable: bool
    feature_count: int
    fields: list[dict[str, Any]]


class RowProblem(BaseModel):
    row: int = Field(description="Row number in the file, from 1; 0 for problems of the whole file")
    column: str | None = None
    problem: str
    problem_zh: str
    source_id: str | None = None
    value: str | None = None


class ValidationReport(BaseModel):
    layer: str
    rows: int
    bad_rows: int
    problems_total: int = Field(description="All problems found; at most 1,000 are listed")
    problems: list[RowProblem]


class ImportResult(BaseModel):
    layer: str
    rows_read: int
    inserted: int
    updated: int
    skipped: int
    source_crs: str
    report: ValidationReport


class Error(BaseModel):
    error: str
    message: str
    message_zh: str
    report: ValidationReport | None = None
    detail: list[dict[str, Any]] | None = Field(
        None, description="Request validation errors (422): one entry per bad parameter"
    )


ERROR_RESPONSES = {
    400: {
        "model": Error,
        "description": "A request the service cannot carry out (e.g. an edit the plan does not allow)",
    },
    404: {"model": Error, "description": "Unknown layer or feature"},
    422: {"model": Error, "description": "Invalid input; for imports the per-row report, nothing written"},
    503: {"model": Error, "description": "Database unavailable"},
}

# Ids, versions and run numbers are INTEGER columns (32 bits on PostgreSQL): larger ones are refused with 422 before
# they reach the database (which would fail on them); offsets likewise.
MAX_ID = 2**31 - 1
MAX_OFFSET = 10**9

# Media type of each export format (set on the answer: a guess from the file name depends on the system's mime.types).
EXPORT_MEDIA_TYPES = {
    "geojson": GEOJSON_MEDIA_TYPE,
    "gpkg": "application/geopackage+sqlite3",
    "shp": "application/zip",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

WRITE_METHODS = ("post", "put", "patch", "delete")
_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
# Answers every route can give (the limits middleware, the error handlers of the app), added to its OpenAPI entry.
_COMMON = {
    "429": {
        "description": "Too many requests (per-client rate limit); retry after Retry-After seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
    },
    "503": {"description": "Database unavailable"},
}
_SECURED = {
    "401": {
        "description": "No token, or an invalid or revoked one",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    },
    "403": {"description": "The token's role may not do this"},
}
_WRITES = {
    "400": {"description": "Invalid Content-Length, or a request the service cannot carry out"},
    "409": {"description": "The database refused the write (a constraint); nothing was kept"},
    "413": {
        "description": "Request body or upload larger than the limit (GEO_MAX_BODY_MB, GEO_MAX_UPLOAD_MB); "
        "nothing written"
    },
}


def document_common_errors(doc: dict) -> dict:
    """Add to every operation of an OpenAPI document the error answers the app gives around the routes.

    429 and 503 everywhere; 401 and 403 where a bearer token is needed (all writes, the admin reads); 400, 409
    and 413 on writes.  Answers an operation documents itself are kept.  Bodies are :class:`Error`.
    """
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    if "Error" not in schemas:
        schemas.update(Error.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {}))
        schemas["Error"] = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    for item in doc.get("paths", {}).values():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            add = dict(_COMMON)
            if op.get("security") or method in WRITE_METHODS:
                add.update(_SECURED)
            if method in WRITE_METHODS:
                add.update(_WRITES)
            for code, response in add.items():
                op["responses"].setdefault(code, {**response, "content": _ERROR_REF})
    return doc
