"""Stage 13: polygons and attributes of units, communities, streets and counties; the metadata."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
from scipy.spatial import cKDTree

from ._constants import (
    CENTER_LONLAT,
    CITY_CODE,
    CITY_NAME,
    CITY_NAME_ZH,
    KG_GAP_R,
    METRIC_EPSG,
    PLAN_NAME,
    RAILWAY_NAME,
    RIVER_NAME,
    WORKERS_PER_10K,
)
from ._facility_blocks import SportsGap
from ._util import group_union, ids
from .city import SampleCity
from .communities import Communities
from .gap_spaces import build_gap_spaces
from .lattice import Lattice, Projection
from .network import Network
from .population import Units
from .streets import Streets


def build_population_units(lattice: Lattice, streets: Streets, units: Units) -> gpd.GeoDataFrame:
    """The population units layer: residents, households, residents 60+ and 0-6 per compound (EPSG:4326)."""
    n_units = units.n_units
    return gpd.GeoDataFrame(
        {
            "source_id": ids("sample:unit:", n_units),
            "name": units.unit_names.astype(object),
            "unit_type": np.full(n_units, "compound", dtype=object),
            "residents": units.residents,
            "households": units.households,
            "residents_60plus": units.r60,
            "residents_0_6": units.r06,
            "street_code": streets.street_codes[units.unit_street].astype(object),
        },
        geometry=lattice.cell_poly[units.unit_cell],
        crs=4326,
    )


def build_communities_layer(lattice: Lattice, streets: Streets, units: Units, comms: Communities) -> gpd.GeoDataFrame:
    """The communities layer: unions of their units, households, residents and workers (EPSG:4326)."""
    comm_geom = group_union(lattice.cell_poly[units.unit_cell], comms.unit_comm, comms.n_comm)
    return gpd.GeoDataFrame(
        {
            "source_id": np.strings.add("sample:community:", comms.comm_codes).astype(object),
            "code": comms.comm_codes.astype(object),
            "name": comms.comm_names.astype(object),
            "street_code": streets.street_codes[comms.comm_street].astype(object),
            "has_fixed_office": comms.has_office,
            "community_workers": comms.comm_workers,
            "households": comms.comm_hh,
            "residents": comms.comm_res,
        },
        geometry=comm_geom,
        crs=4326,
    )


#: Idle assets and space candidates per unit of ``scale`` (the default city: 50 and 100, about 1.2 per community).
GAP_ASSETS_PER_SCALE, GAP_CANDIDATES_PER_SCALE = 50, 100


def build_gap_layers(
    population_units: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    seed: int,
    scale: float = 1.0,
    *,
    n_total: int | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Stage 14: the ``idle_assets`` and ``space_candidates`` layers (EPSG:4326) for the gap plan (Art. 18 ¶2-3).

    ``n_total``: how many spaces in all (a third idle assets), instead of 150 x ``scale``; the benchmark asks
    for 500. Drawn from ``default_rng([seed, 15])``: no other layer changes.
    """
    if n_total is None:
        n_assets = max(1, round(GAP_ASSETS_PER_SCALE * scale))
        n_cands = max(1, round(GAP_CANDIDATES_PER_SCALE * scale))
    else:
        n_assets = max(1, int(n_total) // 3)
        n_cands = max(1, int(n_total) - n_assets)
    return build_gap_spaces(population_units, facilities, seed, n_assets=n_assets, n_candidates=n_cands)


def build_admin_areas(lattice: Lattice, streets: Streets, units: Units, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Create the admin areas layer: counties, then streets (EPSG:4326).

    Parameters
    ----------
    lattice : Lattice
        Cell polygons (EPSG:4326).
    streets : Streets
        Street of each cell, codes, names and counties.
    units : Units
        Residents per unit (for the workers available).
    rng : numpy.random.Generator
        The generator of the ``roads`` stage (the original pipeline draws the street workers from
        it, after the roads stage, which draws nothing).

    Returns
    -------
    geopandas.GeoDataFrame
        Unions of the cells; ``community_workers_available``: about 18 workers per 10,000 residents
        (street), summed per county.
    """
    n_streets, n_counties, s_county = streets.n_streets, streets.n_counties, streets.s_county
    county_codes, street_codes = streets.county_codes, streets.street_codes
    county_idx = streets.county_idx
    street_geom = group_union(lattice.cell_poly[county_idx], streets.street[county_idx], n_streets)
    county_geom = group_union(street_geom, s_county, n_counties)
    s_res = np.bincount(units.unit_street, weights=units.residents, minlength=n_streets)
    s_workers = np.round(s_res * WORKERS_PER_10K / 10_000 * rng.uniform(0.85, 1.1, n_streets)).astype(np.int64)
    c_workers = np.bincount(s_county, weights=s_workers, minlength=n_counties).astype(np.int64)
    return gpd.GeoDataFrame(
        {
            "source_id": np.strings.add("sample:admin:", np.concatenate([county_codes, street_codes])).astype(object),
            "level": np.array(["county"] * n_counties + ["street"] * n_streets, dtype=object),
            "code": np.concatenate([county_codes, street_codes]).astype(object),
            "name": np.concatenate([streets.county_names, streets.street_names]).astype(object),
            "parent_code": np.concatenate([np.full(n_counties, CITY_CODE), county_codes[s_county]]).astype(object),
            "community_workers_available": np.concatenate([c_workers, s_workers]),
        },
        geometry=np.concatenate([county_geom, street_geom]),
        crs=4326,
    )


def deliberate_gaps(
    proj: Projection,
    kg_gap_xy: np.ndarray,
    edc_gap_r: float,
    units: Units,
    streets: Streets,
    sports_gap: SportsGap,
) -> list[dict[str, Any]]:
    """The deliberate facility gaps as metadata records: category, centre, radius (m), place and note.

    Kindergartens: discs of ``KG_GAP_R`` in the outer new districts, no kindergarten within 300 m of any point;
    elderly day care: a disc of ``edc_gap_r`` around the old centre; sports centre: one street (its code in
    ``street_code``) without one, the disc around its residents' centre without any sports centre.
    """
    gap_lon, gap_lat = proj.lonlat(kg_gap_xy[:, 0], kg_gap_xy[:, 1]) if kg_gap_xy.size else (np.zeros(0), np.zeros(0))
    unit_xy = np.column_stack([units.ux, units.uy])
    gap_unit = cKDTree(unit_xy).query(kg_gap_xy)[1] if kg_gap_xy.size else np.zeros(0, np.int64)
    gap_street = streets.street_names[units.unit_street[gap_unit]]
    out = [
        {
            "category": "kindergarten",
            "center_lonlat": (float(a), float(b)),
            "radius_m": KG_GAP_R,
            "place_zh": f"{st}外围新区（{units.unit_names[u]}一带）",
            "note_zh": "该范围内任一点300米内无幼儿园",
        }
        for a, b, st, u in zip(gap_lon, gap_lat, gap_street, gap_unit)
    ] + [
        {
            "category": "elderly_day_care",
            "center_lonlat": CENTER_LONLAT,
            "radius_m": edc_gap_r,
            "place_zh": "老城区中心",
            "note_zh": "老城区缺少老年人日间照料中心",
        }
    ]
    if sports_gap.street >= 0:
        lon, lat = proj.lonlat(np.array([sports_gap.xy[0]]), np.array([sports_gap.xy[1]]))
        out.append(
            {
                "category": "sports_center",
                "center_lonlat": (float(lon[0]), float(lat[0])),
                "radius_m": sports_gap.radius_m,
                "street_code": str(streets.street_codes[sports_gap.street]),
                "place_zh": str(streets.street_names[sports_gap.street]),
                "note_zh": "该街道没有体育活动中心，离邻近街道中心较远的居民步行15分钟内无体育活动中心",
            }
        )
    return out


def city_metadata(
    scale: float,
    seed: int,
    counts: dict[str, int],
    county_codes: np.ndarray,
    lattice_shape: tuple[int, int],
    deliberate_gaps: list[dict[str, Any]],
    at_risk_ids: list[str],
) -> dict[str, Any]:
    """The dataset metadata of the city: names, seed, scale, CRSs, counts, gaps and facilities at risk."""
    return {
        "synthetic": True,
        "name": CITY_NAME,
        "name_zh": CITY_NAME_ZH,
        "description_zh": "按固定随机种子生成的合成示例数据，仅用于演示与测试，不代表任何真实地点、人口或设施。",
        "seed": int(seed),
        "scale": float(scale),
        "center_lonlat": CENTER_LONLAT,
        "metric_crs": f"EPSG:{METRIC_EPSG}",
        "crs": "EPSG:4326",
        "plan_name": PLAN_NAME,
        "county_codes": [str(c) for c in county_codes],
        "counts": counts,
        "lattice_shape": lattice_shape,
        "river_name": RIVER_NAME,
        "railway_name": RAILWAY_NAME,
        "deliberate_gaps": deliberate_gaps,
        "at_risk_facilities": at_risk_ids,
    }


def city_counts(
    city: SampleCity, streets: Streets, units: Units, comms: Communities, network: Network
) -> dict[str, int]:
    """Feature counts of the city (residents and households summed over the units)."""
    return {
        "admin_areas": len(city.admin_areas),
        "counties": streets.n_counties,
        "streets": streets.n_streets,
        "population_units": units.n_units,
        "residents": int(units.residents.sum()),
        "households": int(units.households.sum()),
        "communities": comms.n_comm,
        "facilities": len(city.facilities),
        "shelters": len(city.shelters),
        "plan_parcels": len(city.plan_parcels),
        "developments": len(city.developments),
        "roads": len(city.roads),
        "barriers": len(city.barriers),
        "buildings": len(city.buildings),
        "network_nodes": network.n_nodes,
        "network_edges": len(network.edges),
        "crossing_edges": network.n_crossing,
        "lattice_cells": int(streets.in_county.sum()),
        # stage 14, once the pipeline attaches it (build_gap_layers): absent before, so no count changes
        **{
            name: len(getattr(city, name))
            for name in ("idle_assets", "space_candidates", "hazards")
            if getattr(city, name, None) is not None
        },
    }
