"""The result of an audit: every table, the norms used, the totals and the summary."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from geo_service.core.jsonvalues import json_records


@dataclass
class AuditResult:
    """All audit tables (GeoDataFrames in EPSG:4326 where they have geometry)."""

    communities: gpd.GeoDataFrame
    category_counts: pd.DataFrame
    facilities: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    assignment: gpd.GeoDataFrame
    shelter_share: pd.DataFrame
    central: pd.DataFrame
    shelter_sites: gpd.GeoDataFrame
    parcels: gpd.GeoDataFrame
    developments: gpd.GeoDataFrame
    streets: pd.DataFrame
    cannot_assess: pd.DataFrame
    norms_used: list[dict]
    totals: dict
    warnings: list[str] = field(default_factory=list)
    gap_plan: gpd.GeoDataFrame | None = None
    hazard_zones: gpd.GeoDataFrame | None = None  # Art. 15: the zones of the hazards layer (facilities.hazards)

    def summary(self, worst: int = 10) -> dict:
        """Totals, streets, the ``worst`` communities, shelter shares, norms and warnings as JSON values."""
        cm = self.communities
        worst_rows = cm.drop(columns="geometry").head(worst)
        cols = [
            c
            for c in (
                "rank",
                "community_code",
                "name",
                "street_code",
                "issues",
                "issues_zh",
                "service_floor_gap_m2",
                "emergency_unplaced",
                "group_shortfall_zh",
            )
            if c in worst_rows
        ]
        return {
            **self.totals,
            "streets": json_records(self.streets),
            "worst_communities": json_records(worst_rows[cols]),
            "shelter_share": json_records(self.shelter_share),
            "central_shelter_checks": json_records(self.central),
            "norms": self.norms_used,
            "warnings": list(self.warnings),
        }
