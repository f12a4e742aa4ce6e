"""The result container of the sample city generator."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd

from ._constants import LAYER_NAMES, PLAN_NAME


@dataclass
class SampleCity:
    """The generated layers (EPSG:4326 GeoDataFrames) and metadata."""

    admin_areas: gpd.GeoDataFrame
    population_units: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    plan_parcels: gpd.GeoDataFrame
    developments: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    barriers: gpd.GeoDataFrame
    network_nodes: gpd.GeoDataFrame
    network_edges: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    idle_assets: gpd.GeoDataFrame = field(default_factory=lambda: gpd.GeoDataFrame(geometry=[], crs=4326))
    space_candidates: gpd.GeoDataFrame = field(default_factory=lambda: gpd.GeoDataFrame(geometry=[], crs=4326))
    hazards: gpd.GeoDataFrame = field(default_factory=lambda: gpd.GeoDataFrame(geometry=[], crs=4326))
    metadata: dict = field(default_factory=dict)
    plan_name: str = PLAN_NAME

    def layer_frames(self) -> dict[str, gpd.GeoDataFrame]:
        """The importable layers by layer name (without the network)."""
        return {name: getattr(self, name) for name in LAYER_NAMES}

    def frames(self) -> dict[str, gpd.GeoDataFrame]:
        """All frames, including ``network_nodes`` and ``network_edges``."""
        out = self.layer_frames()
        out["network_nodes"] = self.network_nodes
        out["network_edges"] = self.network_edges
        return out
