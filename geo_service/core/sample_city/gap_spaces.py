"""Stage 14: idle assets (闲置资产) and spaces to buy, lease, swap or extend (Art. 18 ¶2-3), for the gap plan.

Synthetic like the rest of the city: offered by made-up agencies and enterprises, placed in the residential compounds
(a point inside a random unit, EPSG:4326), extensions at an existing community facility. Figures: floor area (m²),
floor level, lift, availability (dates, UTC), rent (yuan/m²/year), price and cost (yuan). The stage draws from a
generator of its own (``default_rng([seed, 15])``), so no other layer changes.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._util import ids

ASSET_OWNERS = (
    "区机关事务管理局",
    "区国有资产投资经营公司",
    "市粮食储备有限公司",
    "区供销合作社",
    "区教育局（撤并学校）",
    "国网德阳供电公司",
    "中国邮政德阳分公司",
    "区卫生健康局",
    "德阳城市建设投资公司",
)
ASSET_KINDS = ("粮站", "供销社门市", "办公楼", "职工宿舍底商", "邮政营业厅", "卫生所", "仓库", "综合楼")
MARKET_OWNERS = ("个人业主", "德阳某置业公司", "某商业管理公司", "区住房保障中心", "某物业公司")
MARKET_KINDS = ("沿街商铺", "写字楼楼层", "底商", "会所", "车库改造空间")
EXTENDABLE = ("community_service_station", "community_office", "community_service_center")


def _points_in(units: gpd.GeoDataFrame, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` points, each inside a random unit (EPSG:4326): the unit's representative point moved towards a random
    vertex of it by up to 60 %, which stays inside a convex unit."""
    geoms = np.asarray(units.geometry.values, dtype=object)
    pick = rng.integers(0, len(geoms), n)
    rep = shapely.point_on_surface(geoms[pick])
    rx, ry = shapely.get_x(rep), shapely.get_y(rep)
    hull = shapely.convex_hull(geoms[pick])
    cx, cy = shapely.get_x(shapely.centroid(hull)), shapely.get_y(shapely.centroid(hull))
    t = rng.uniform(0, 0.6, n)
    pts = shapely.points(rx + (cx - rx) * t, ry + (cy - ry) * t)
    inside = shapely.contains(geoms[pick], pts)
    return np.where(inside, pts, rep)


def _dates(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Available from (2024-2026) and to (3-10 years later, or open-ended for a quarter), UTC timestamps."""
    start = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 3 * 365, n), unit="D")
    years = rng.integers(3, 11, n)
    end = np.array([s + pd.DateOffset(years=int(y)) for s, y in zip(start, years)], dtype=object)
    end[rng.random(n) < 0.25] = None
    return np.asarray(start, dtype=object), end


def build_idle_assets(units: gpd.GeoDataFrame, rng: np.random.Generator, n: int) -> gpd.GeoDataFrame:
    """``n`` idle assets offered by agencies and state enterprises (EPSG:4326): free transfer, lease or sale."""
    area = np.round(np.clip(rng.lognormal(np.log(420), 0.55, n), 120, 2400), 0)
    terms = rng.choice(np.array(["free_transfer", "lease", "sale"], dtype=object), n, p=[0.45, 0.4, 0.15])
    level = rng.choice(np.array([1, 1, 1, 2, 2, 3, 4]), n)
    lift = (level > 1) & (rng.random(n) < 0.35)
    rent = np.where(terms == "lease", np.round(rng.uniform(18, 60, n), 0), np.nan)
    price = np.where(terms == "sale", np.round(area * rng.uniform(4000, 9000, n), -3), np.nan)
    start, end = _dates(rng, n)
    kinds = rng.choice(np.array(ASSET_KINDS, dtype=object), n)
    return gpd.GeoDataFrame(
        {
            "source_id": ids("sample:asset:", n),
            "name": np.array([f"原{k}（{i + 1}号）" for i, k in enumerate(kinds)], dtype=object),
            "owner": rng.choice(np.array(ASSET_OWNERS, dtype=object), n),
            "floor_area_m2": area,
            "floor_level": level,
            "has_lift": lift,
            "available_from": start,
            "available_to": end,
            "condition": rng.choice(
                np.array(["ready", "minor_repair", "renovation"], dtype=object), n, p=[0.5, 0.3, 0.2]
            ),
            "terms": terms,
            "rent_yuan_per_m2_year": rent,
            "price_yuan": price,
        },
        geometry=_points_in(units, rng, n),
        crs=4326,
    )


def build_space_candidates(
    units: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, rng: np.random.Generator, n: int
) -> gpd.GeoDataFrame:
    """``n`` spaces a county could buy, lease, swap for, or gain by extending a community facility (EPSG:4326)."""
    kind = rng.choice(np.array(["purchase", "lease", "swap", "extension"], dtype=object), n, p=[0.25, 0.4, 0.15, 0.2])
    area = np.round(np.clip(rng.lognormal(np.log(350), 0.5, n), 80, 1800), 0)
    level = rng.choice(np.array([1, 1, 2, 3]), n)
    lift = (level > 1) & (rng.random(n) < 0.4)
    per_m2 = {"purchase": (6000, 12000), "lease": (0, 400), "swap": (0, 300), "extension": (2800, 5000)}
    lo = np.array([per_m2[k][0] for k in kind], dtype=float)
    hi = np.array([per_m2[k][1] for k in kind], dtype=float)
    cost = np.round(area * rng.uniform(lo, hi), -2)
    rent = np.where(kind == "lease", np.round(rng.uniform(25, 80, n), 0), np.nan)
    pts = _points_in(units, rng, n)
    fac_src = np.full(n, None, dtype=object)
    names = rng.choice(np.array(MARKET_KINDS, dtype=object), n).astype(object)
    owner = rng.choice(np.array(MARKET_OWNERS, dtype=object), n).astype(object)
    ext = np.flatnonzero(kind == "extension")
    hosts = facilities[facilities["category"].isin(EXTENDABLE)] if "category" in facilities.columns else facilities
    if len(ext) and len(hosts):
        pick = rng.integers(0, len(hosts), len(ext))
        pts[ext] = shapely.point_on_surface(np.asarray(hosts.geometry.values, dtype=object)[pick])
        fac_src[ext] = hosts["source_id"].to_numpy(dtype=object)[pick]
        names[ext] = [f"{n_}扩建" for n_ in hosts["name"].to_numpy(dtype=object)[pick]]
        owner[ext] = "区民政局"
        level[ext] = 1
    elif len(ext):
        kind[ext] = "lease"
    return gpd.GeoDataFrame(
        {
            "source_id": ids("sample:space:", n),
            "name": np.array([f"{nm}（{i + 1}号）" for i, nm in enumerate(names)], dtype=object),
            "kind": kind,
            "floor_area_m2": area,
            "cost_yuan": cost,
            "rent_yuan_per_m2_year": rent,
            "floor_level": level,
            "has_lift": lift,
            "facility_source_id": fac_src,
            "owner": owner,
        },
        geometry=pts,
        crs=4326,
    )


def build_gap_spaces(
    units: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    seed: int,
    *,
    n_assets: int,
    n_candidates: int,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Idle assets and space candidates of the sample city (both EPSG:4326), from ``default_rng([seed, 15])``."""
    rng = np.random.default_rng([int(seed), 15])
    return (
        build_idle_assets(units, rng, int(n_assets)),
        build_space_candidates(units, facilities, rng, int(n_candidates)),
    )
