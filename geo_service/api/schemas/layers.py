"""``/layers``: single-feature edits and the answer of an import (the layer list and features use :mod:`.common`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .common import ImportResult, RowProblem, ValidationReport


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


class ImportWarning(BaseModel):
    """A remark that does not refuse the file (a column not imported, ids made from the content, a layer far from
    the others...)."""

    message: str
    message_zh: str


class ImportProblem(RowProblem):
    file_column: str | None = Field(None, description="The column as the file names it")


class ImportReport(ValidationReport):
    row_kind: Literal["row", "feature"] = Field(
        "feature",
        description="row: CSV/XLSX rows as the spreadsheet shows them (header = row 1); feature: feature number",
    )
    first_row: int = Field(1, description="Number of the first data row (2 for CSV/XLSX, 1 for features)")
    problems: list[ImportProblem]  # type: ignore[assignment]
    warnings: list[ImportWarning] = Field(default_factory=list)


class ImportOutcome(ImportResult):
    """An import (or with ``check``, what it would do: nothing written)."""

    checked: bool = Field(False, description="Only checked: nothing was written; inserted/updated are what would be")
    warnings: list[ImportWarning] = Field(default_factory=list)
    report: ImportReport  # type: ignore[assignment]
