"""Pydantic models of the API's requests and responses, one module per resource (English snake_case fields).

:mod:`.common` holds what every router shares (GeoJSON features, :class:`Error` and the error answers, the id
limits); the others are named after their router: :mod:`.admin`, :mod:`.audit`, :mod:`.coverage`, :mod:`.jobs`,
:mod:`.layers`, :mod:`.nearest`, :mod:`.ogc`, :mod:`.plans`, and :mod:`.runs` for the analysis runs of
``/coverage`` and ``/audit``.
"""

from __future__ import annotations

from .common import (
    ERROR_RESPONSES,
    EXPORT_MEDIA_TYPES,
    MAX_ID,
    MAX_OFFSET,
    WRITE_METHODS,
    Error,
    Feature,
    FeatureCollection,
    Health,
    ImportResult,
    LayerInfo,
    Link,
    RowProblem,
    UTCDateTime,
    ValidationReport,
    document_common_errors,
)

__all__ = [
    "ERROR_RESPONSES",
    "EXPORT_MEDIA_TYPES",
    "MAX_ID",
    "MAX_OFFSET",
    "WRITE_METHODS",
    "Error",
    "Feature",
    "FeatureCollection",
    "Health",
    "ImportResult",
    "LayerInfo",
    "Link",
    "RowProblem",
    "UTCDateTime",
    "ValidationReport",
    "document_common_errors",
]
