"""``/units``: building population units from an uploaded totals file — the check of the file and the job."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .jobs import Job


class AreasWithoutTotals(BaseModel):
    level: str = Field(description="district | street | community | grid")
    areas: list[str] = Field(description="Names (else codes) of the stored admin areas of that level no total names")


class TotalsCheck(BaseModel):
    """What the uploaded totals hold and how they match the stored admin areas (nothing written)."""

    sources: list[str] = Field(description="File names of the totals")
    rows: int = Field(description="Totals read (blank lines skipped; one row given twice counts once)")
    rows_by_level: dict[str, int] = Field(description="Totals per level (district, street, community, grid)")
    residents_by_level: dict[str, int] = Field(description="Sum of the residents given per level, persons")
    matched: dict[str, int] = Field(description="Totals matched to an admin area (by code, then name), per level")
    areas_without_totals: list[AreasWithoutTotals] = Field(
        default_factory=list, description="Stored admin areas of a level with totals that no total names"
    )
    raster: str | None = Field(None, description="File name of the population raster used as weights, if any")
    notes_zh: list[str] = Field(
        default_factory=list, description="How totals were read, e.g. grid totals summed into their communities"
    )
    message_zh: str


class UnitsBuildJob(Job):
    """The ``units`` job started by an upload (202), with the check of its totals."""

    totals: TotalsCheck
