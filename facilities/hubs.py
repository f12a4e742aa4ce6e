"""Norms from practice (issue 17, item 4): the 80 m² target tier of service space and the embedded service hub.

Service space tiers
    Per community, the comprehensive service floor area (facilities of ``community.service_space_categories`` with
    status existing, placed by a point on their surface inside the plan's community polygons) against the minimum
    ``community.service_floor_m2_per_100_households`` (30 m² per 100 households) and the target
    ``community.service_floor_m2_per_100_households_target`` (80 m²): ``meets_target`` / ``meets_minimum`` /
    ``below_minimum``, or ``cannot_assess`` (no households; or below the minimum while some of its facilities lack a
    floor area).  The audit (:mod:`facilities.audit.space`) checks the same floor area against the minimum only.

Embedded service hub (嵌入式服务综合体)
    Decision: a hub is **one facility record** — of category ``embedded_service``, or of any category whose
    ``functions`` field lists what it embeds — checked against ``community.embedded_hub``: floor area >= 600 m²
    (800 m² preferred), at least 3 functions, at least 2 of them core functions (elderly care, childcare,
    after-school care, meals).  Separate facilities that happen to share a building are *not* added up: they have
    their own operators and floor areas that may share rooms, and the notices describe one complex under one
    management; an office that runs one should record it as one ``embedded_service`` facility listing its functions.
    Functions are facility categories (codes or their Chinese labels) separated by commas, ``、`` or ``;``.

Both carry the source and status of the norms they were checked against.

Hubs as supply
    A facility whose ``functions`` name facility categories serves those categories from its location:
    :func:`with_hub_functions` adds one row per listed category (same ``id``, name, status and geometry,
    ``supplied_by_hub`` True, no floor area or capacity), which coverage, fairness and the audit's presence checks
    (required categories, fixed office) count like facilities of that category.  Its **floor area is counted once**,
    under the facility itself: towards the community service space when its own category or one of its functions is
    a service-space category (``community.service_space_categories``, :func:`counts_as_service_space`), never per
    function; the per-facility minimum floor area applies to its own category only (an ``embedded_service`` hub
    against 600 m²), not to each function.  E2SFCA scores use the facilities' own categories only (a hub's capacity
    is not split between its functions).
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core import vocab
from geo_service.core.norms import Norms

__all__ = [
    "HUB_STATUS_ZH",
    "TIER_ZH",
    "check_hubs",
    "counts_as_service_space",
    "function_lists",
    "parse_functions",
    "service_floor_tiers",
    "with_hub_functions",
]

HUB_STATUS_ZH = {"meets": "达标", "fails": "不达标", "cannot_assess": "无法判断"}
TIER_ZH = {
    "meets_target": "达到目标值（每百户 80 m²）",
    "meets_minimum": "达到底线、未达目标值",
    "below_minimum": "低于底线（每百户 30 m²）",
    "cannot_assess": "无法判断",
}
_SPLIT = re.compile(r"[,，、;；/\s]+")
_BY_LABEL = {label: code for code, label in vocab.FACILITY_CATEGORIES.items()}


def parse_functions(text) -> tuple[list[str], list[str]]:
    """Facility categories named in a ``functions`` field: (known codes in order, unknown names).

    Codes and Chinese labels (``托儿所``) are accepted; duplicates count once.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return [], []
    known: list[str] = []
    unknown: list[str] = []
    for part in _SPLIT.split(str(text).strip()):
        if not part:
            continue
        code = part if part in vocab.FACILITY_CATEGORIES else _BY_LABEL.get(part)
        if code is None:
            unknown.append(part)
        elif code not in known:
            known.append(code)
    return known, unknown


def function_lists(facilities: pd.DataFrame) -> list[tuple[str, ...]]:
    """Per facility, the categories its ``functions`` field names (recognised codes, its own category left out).

    Parameters
    ----------
    facilities : DataFrame
        ``category`` and optional ``functions`` (text, see :func:`parse_functions`).

    Returns
    -------
    list of tuple of str
        Aligned with ``facilities``; empty tuples for facilities without functions (and without the column).
    """
    if "functions" not in facilities.columns:
        return [()] * len(facilities)
    own = (
        facilities["category"].to_numpy(dtype=object) if "category" in facilities.columns else [None] * len(facilities)
    )
    return [
        tuple(c for c in parse_functions(text)[0] if c != cat and c != "embedded_service")
        for text, cat in zip(facilities["functions"].to_numpy(dtype=object), own)
    ]


def with_hub_functions(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The facilities plus one row per category a hub's ``functions`` list (see the module docstring).

    Parameters
    ----------
    facilities : GeoDataFrame, EPSG:4326
        ``category``, optional ``id``, ``functions``, ``status``, ``floor_area_m2`` (m²), ``capacity``.

    Returns
    -------
    GeoDataFrame, EPSG:4326
        The input rows (``supplied_by_hub`` False) followed by the function rows (``supplied_by_hub`` True,
        ``category`` the function, ``hub_category`` the hub's own category, no ``floor_area_m2`` / ``capacity``).
        The input itself when no facility lists a function.
    """
    lists = function_lists(facilities)
    reps = np.array([len(x) for x in lists], dtype=np.int64)
    if not reps.any():
        return facilities.assign(supplied_by_hub=False, hub_category=None)
    pos = np.repeat(np.arange(len(facilities)), reps)
    extra = facilities.iloc[pos].copy()
    extra["hub_category"] = extra["category"].to_numpy()
    extra["category"] = [c for x in lists for c in x]
    for col in ("floor_area_m2", "capacity"):
        if col in extra.columns:
            extra[col] = np.nan
    extra["supplied_by_hub"] = True
    base = facilities.assign(supplied_by_hub=False, hub_category=None)
    out = pd.concat([base, extra], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry=facilities.geometry.name, crs=facilities.crs)


def counts_as_service_space(categories, functions: list[tuple[str, ...]], space_categories) -> np.ndarray:
    """Per facility: its floor area counts (once) as community service space.

    True when its own category, or one of the categories its ``functions`` list (:func:`function_lists`), is one of
    ``space_categories`` (``community.service_space_categories``).
    """
    space = set(space_categories)
    return np.array([c in space or any(f in space for f in fns) for c, fns in zip(categories, functions)], dtype=bool)


def _labels(codes) -> str:
    return "、".join(vocab.FACILITY_CATEGORIES.get(c, c) for c in codes)


def check_hubs(facilities: gpd.GeoDataFrame, norms: Norms) -> pd.DataFrame:
    """Every embedded service hub checked against ``community.embedded_hub``.

    Parameters
    ----------
    facilities : GeoDataFrame, EPSG:4326
        ``id``, ``category``, optional ``name``, ``status``, ``floor_area_m2`` (m²), ``functions``.

    Returns
    -------
    DataFrame
        One row per hub (category ``embedded_service``, or a non-empty ``functions``): ``facility_id``, ``name``,
        ``category``, ``status``, ``floor_area_m2``, ``functions`` (comma-separated codes), ``functions_zh``,
        ``function_count``, ``core_functions``, ``core_count``, ``unknown_functions``, ``floor_ok`` (>= 600 m²),
        ``floor_preferred`` (>= 800 m²), ``hub_status`` (``meets`` | ``fails`` | ``cannot_assess``),
        ``hub_status_zh``, ``reasons_zh``, ``norm_source``, ``norm_status``, ``lon``, ``lat``.
    """
    hub = norms.entry("community.embedded_hub")
    src, status = norms.source_of("community.embedded_hub")
    core_set = tuple(hub.core_functions)  # type: ignore[attr-defined]
    min_floor, pref = float(hub.floor_m2), float(hub.preferred_floor_m2)  # type: ignore[attr-defined]
    min_fn, min_core = int(hub.min_functions), int(hub.min_core_functions)  # type: ignore[attr-defined]
    fn_col = facilities["functions"] if "functions" in facilities.columns else pd.Series(None, index=facilities.index)
    has_fn = fn_col.fillna("").astype(str).str.strip() != ""
    sel = facilities[(facilities["category"].to_numpy() == "embedded_service") | has_fn.to_numpy()]
    rows = []
    for i, f in sel.iterrows():
        known, unknown = parse_functions(fn_col.loc[i])
        known = [c for c in known if c != "embedded_service"]
        core = [c for c in known if c in core_set]
        floor = pd.to_numeric(pd.Series([f.get("floor_area_m2")]), errors="coerce").iloc[0]
        reasons, missing = [], []  # definite failures; data that keeps the check from concluding
        if np.isnan(floor):
            missing.append("未填写建筑面积")
        elif floor < min_floor:
            reasons.append(f"建筑面积 {floor:g} m² 低于 {min_floor:g} m²")
        fn_reasons = []
        if len(known) < min_fn:
            fn_reasons.append(f"服务功能 {len(known)} 项，少于 {min_fn} 项")
        if len(core) < min_core:
            fn_reasons.append(f"核心功能（{_labels(core_set)}）{len(core)} 项，少于 {min_core} 项")
        if not known and not unknown:
            missing.append("未填写服务功能（functions）")
        elif unknown:  # an unrecognised name might be a function: counts below the norm do not conclude
            missing.append(
                f"无法识别的功能：{'、'.join(unknown)}" + (f"（{'；'.join(fn_reasons)}）" if fn_reasons else "")
            )
        else:
            reasons += fn_reasons
        verdict = "fails" if reasons else ("cannot_assess" if missing else "meets")
        pt = f.geometry.representative_point() if f.geometry is not None else None
        rows.append(
            {
                "facility_id": f.get("id", i),
                "name": f.get("name"),
                "category": f["category"],
                "status": f.get("status") or "existing",
                "floor_area_m2": None if np.isnan(floor) else float(floor),
                "functions": ",".join(known),
                "functions_zh": _labels(known),
                "function_count": len(known),
                "core_functions": ",".join(core),
                "core_count": len(core),
                "unknown_functions": "、".join(unknown),
                "floor_ok": bool(not np.isnan(floor) and floor >= min_floor),
                "floor_preferred": bool(not np.isnan(floor) and floor >= pref),
                "hub_status": verdict,
                "hub_status_zh": HUB_STATUS_ZH[verdict],
                "reasons_zh": "；".join(reasons + missing),
                "norm_source": src,
                "norm_status": status,
                "lon": None if pt is None else float(pt.x),
                "lat": None if pt is None else float(pt.y),
            }
        )
    return pd.DataFrame(rows, columns=_HUB_COLUMNS)


_HUB_COLUMNS = [
    "facility_id",
    "name",
    "category",
    "status",
    "floor_area_m2",
    "functions",
    "functions_zh",
    "function_count",
    "core_functions",
    "core_count",
    "unknown_functions",
    "floor_ok",
    "floor_preferred",
    "hub_status",
    "hub_status_zh",
    "reasons_zh",
    "norm_source",
    "norm_status",
    "lon",
    "lat",
]


def service_floor_tiers(communities: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, norms: Norms) -> pd.DataFrame:
    """Per community the service floor area against the 30 m² minimum and the 80 m² target per 100 households.

    Parameters
    ----------
    communities : GeoDataFrame, EPSG:4326
        One plan's communities: ``code``, ``name``, optional ``street_code``, ``households``.
    facilities : GeoDataFrame, EPSG:4326
        ``category``, optional ``status``, ``floor_area_m2`` (m²).

    Returns
    -------
    DataFrame
        ``community_code``, ``name``, ``street_code``, ``households``, ``service_floor_m2`` (known floor areas),
        ``facilities_without_area``, ``minimum_m2``, ``target_m2`` (required floor areas), ``gap_to_minimum_m2``,
        ``gap_to_target_m2`` (>= 0), ``floor_tier``, ``floor_tier_zh``, ``reason_zh``, and the ``*_norm_source`` /
        ``*_norm_status`` of the minimum and the target.
    """
    per_min = float(norms.service_floor_m2_per_100_households)
    per_target = float(norms.entry("community.service_floor_m2_per_100_households_target").value)  # type: ignore[attr-defined]
    min_src, min_status = norms.source_of("community.service_floor_m2_per_100_households")
    t_src, t_status = norms.source_of("community.service_floor_m2_per_100_households_target")
    cm = communities.reset_index(drop=True)
    n = len(cm)
    fac = vocab.in_service(facilities)
    fac = fac[counts_as_service_space(fac["category"], function_lists(fac), norms.service_space_categories)]
    known = np.zeros(n)
    unknown = np.zeros(n, dtype=np.int64)
    if len(fac) and n:
        pts = gpd.GeoDataFrame(
            {"floor": pd.to_numeric(fac.get("floor_area_m2"), errors="coerce").to_numpy(dtype=float)},
            geometry=fac.geometry.representative_point().values,
            crs=fac.crs,
        )
        polys = gpd.GeoDataFrame({"_cm": np.arange(n)}, geometry=cm.geometry.values, crs=cm.crs).to_crs(fac.crs)
        j = gpd.sjoin(pts, polys, how="inner", predicate="within")
        j = j[~j.index.duplicated()]
        area = j["floor"].to_numpy()
        pos = j["_cm"].to_numpy(dtype=np.int64)
        ok = np.isfinite(area)
        known = np.bincount(pos[ok], weights=area[ok], minlength=n)
        unknown = np.bincount(pos[~ok], minlength=n)
    hh = pd.to_numeric(cm.get("households", pd.Series(np.nan, index=cm.index)), errors="coerce").to_numpy(dtype=float)
    need_min, need_target = hh * per_min / 100.0, hh * per_target / 100.0
    tier = np.where(
        ~np.isfinite(hh),
        "cannot_assess",
        np.where(
            known >= need_target - 1e-9,
            "meets_target",
            np.where(
                known >= need_min - 1e-9, "meets_minimum", np.where(unknown > 0, "cannot_assess", "below_minimum")
            ),
        ),
    )
    reason = np.full(n, "", dtype=object)
    reason[~np.isfinite(hh)] = "缺少户数，无法计算应配面积"
    low = np.isfinite(hh) & (tier == "cannot_assess")
    reason[low] = [f"已知面积低于底线，另有 {k} 处设施未填建筑面积" for k in unknown[low]]
    mid = (tier == "meets_minimum") & (unknown > 0)
    reason[mid] = [f"另有 {k} 处设施未填建筑面积，可能已达到目标值" for k in unknown[mid]]
    return pd.DataFrame(
        {
            "community_code": cm["code"].astype(str).to_numpy(),
            "name": cm["name"].to_numpy() if "name" in cm.columns else None,
            "street_code": cm["street_code"].to_numpy() if "street_code" in cm.columns else None,
            "households": hh,
            "service_floor_m2": np.round(known, 1),
            "facilities_without_area": unknown,
            "minimum_m2": np.round(need_min, 1),
            "target_m2": np.round(need_target, 1),
            "gap_to_minimum_m2": np.round(np.maximum(need_min - known, 0.0), 1),
            "gap_to_target_m2": np.round(np.maximum(need_target - known, 0.0), 1),
            "floor_tier": tier,
            "floor_tier_zh": [TIER_ZH[t] for t in tier],
            "reason_zh": reason,
            "minimum_norm_source": min_src,
            "minimum_norm_status": min_status,
            "target_norm_source": t_src,
            "target_norm_status": t_status,
        }
    )
