"""Population units with integer residents and households from buildings, compounds, roads and official totals.

:func:`compute_units` is pure: GeoDataFrames (any CRS with a CRS set; EPSG:4326 from the store) in, units in
EPSG:4326 and a summary out. Areas and floor areas are computed in a metric CRS chosen from the data
(:func:`geo_service.core.crs.metric_crs_for`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.core._errors import InputError
from geo_service.core.crs import metric_crs_for

from .allocate import Allocation, Tier, allocate
from .fold import fold_grid_totals
from .params import LEVEL_ALIASES, LEVEL_ZH, LEVELS, TotalRow, UnitsParams
from .units import make_units
from .weights import building_weights, raster_weights

__all__ = ["UnitsResult", "compute_units", "match_totals", "nesting_depth"]

NESTED_SHARE = 0.9  # an area with >= 90 % of its area inside a larger area of the same level is nested in it


@dataclass
class UnitsResult:
    """Units (EPSG:4326: ``source_id``, ``name``, ``unit_type``, ``unit_basis``, ``residents``, ``households``,
    ``street_code``, ``weight``) and the summary of the run (inputs, method, assumptions, checks, problems)."""

    units: gpd.GeoDataFrame
    summary: dict = field(default_factory=dict)


def _empty(crs=4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=crs))


def _project(frame: gpd.GeoDataFrame | None, crs, what: str) -> gpd.GeoDataFrame:
    if frame is None or len(frame) == 0:
        return _empty(crs)
    if frame.crs is None:
        raise InputError(f"{what} has no CRS", f"{what}没有坐标系")
    return frame.to_crs(crs).reset_index(drop=True)


def nesting_depth(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For areas of one level (metric CRS): how many larger areas each lies inside (>= 90 % of its area), and the
    smallest such container (-1: none)."""
    n = len(geoms)
    depth, parent = np.zeros(n, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    if n < 2:
        return depth, parent
    area = shapely.area(geoms)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = (a != b) & (area[b] > area[a])
    a, b = a[keep], b[keep]
    inside = shapely.area(shapely.intersection(geoms[a], geoms[b])) >= NESTED_SHARE * area[a]
    for i, j in zip(a[inside], b[inside]):
        depth[i] += 1
        if parent[i] < 0 or area[j] < area[parent[i]]:
            parent[i] = j
    return depth, parent


def _prepare_areas(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    areas = areas.copy()
    if len(areas) == 0:
        return areas.assign(level=[], code=[], name=[])
    areas["level"] = [LEVEL_ALIASES.get(str(v), str(v)) for v in areas["level"]]
    for col in ("code", "name"):
        areas[col] = [None if v is None or v != v else str(v).strip() for v in areas.get(col, [None] * len(areas))]
    return areas


def _match(rows: list[TotalRow], areas: gpd.GeoDataFrame, level: str) -> tuple[dict[int, TotalRow], list[str]]:
    """Totals of one level by area index (code first, then name); the rows that match no area."""
    sel = areas.index[areas["level"] == level]
    by_code = {areas.at[i, "code"]: i for i in sel if areas.at[i, "code"]}
    by_name = {areas.at[i, "name"]: i for i in sel if areas.at[i, "name"]}
    out, missing = {}, []
    for r in rows:
        i = by_code.get(r.code) if r.code else None
        if i is None and r.name:
            i = by_name.get(r.name)
        if i is None:
            missing.append(f"{LEVEL_ZH[level]}「{r.label}」")
        else:
            out[int(i)] = r
    return out, missing


def _groups_of(points: np.ndarray, geoms: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Per point the id of the first of ``geoms`` containing it (-1: none)."""
    out = np.full(len(points), -1, dtype=np.int64)
    if len(geoms) == 0 or len(points) == 0:
        return out
    src, dst = shapely.STRtree(geoms).query(points, predicate="within")
    first = pd.Series(dst).groupby(src).first()
    out[first.index.to_numpy()] = ids[first.to_numpy()]
    return out


def _tiers(areas, matched, points, params, summary) -> tuple[list[Tier], list[Tier]]:
    """Residents and households tiers: per level (top first) and nesting depth within the level."""
    res_tiers, hh_tiers = [], []
    for level in params.levels:
        sel = np.flatnonzero((areas["level"] == level).to_numpy())
        geoms = np.asarray(areas.geometry.values, dtype=object)[sel]
        depth, parent = nesting_depth(geoms)
        for i in np.flatnonzero(depth > 0):
            summary["nesting"].append(
                {
                    "level": level,
                    "area": areas.at[sel[i], "name"] or areas.at[sel[i], "code"],
                    "inside": areas.at[sel[parent[i]], "name"] or areas.at[sel[parent[i]], "code"],
                    "text_zh": f"{LEVEL_ZH[level]}「{areas.at[sel[i], 'name']}」"
                    f"位于「{areas.at[sel[parent[i]], 'name']}」之内，其人口已计入后者：按包含关系逐级分配，不重复计数",
                }
            )  # fmt: skip
        for d in range(int(depth.max()) + 1 if len(depth) else 0):
            ids = sel[depth == d]
            groups = _groups_of(points, np.asarray(areas.geometry.values, dtype=object)[ids], ids)
            labels = {int(i): str(areas.at[i, "name"] or areas.at[i, "code"]) for i in ids}
            name = level if d == 0 else f"{level}~nested{d}"
            res = {int(i): float(matched[i].residents) for i in ids if i in matched}
            hh = {
                int(i): float(matched[i].households) for i in ids if i in matched and matched[i].households is not None
            }
            res_tiers.append(Tier(name, groups, res, labels))
            hh_tiers.append(Tier(name, groups, hh, labels))
    return res_tiers, hh_tiers


def _unit_weights(geo, bw, units_m, params, summary) -> np.ndarray:
    n = len(units_m)
    uarea = shapely.area(np.asarray(units_m.geometry.values, dtype=object))
    if params.raster:
        summary["method"]["weights"] = "population raster, exact cell-fraction zonal sums (exactextract)"
        return raster_weights(units_m, params.raster)
    if bw is None:
        summary["method"]["weights"] = "unit area (no buildings: areal weighting)"
        summary["assumptions"].append(
            {"what": "no_buildings", "count": n, "text_zh": "没有建筑数据：按单元面积分配人口（面积权重）"}
        )
        return uarea
    summary["method"]["weights"] = "residential floor area = footprint m2 x floors x residential share"
    ok = geo.building_unit >= 0
    w = np.bincount(geo.building_unit[ok], weights=bw.floor_area_m2[ok], minlength=n)
    empty = (w <= 0) & (units_m["unit_basis"] == "compound").to_numpy()
    if empty.any() and (~empty).any():
        ratio = w[~empty].sum() / max(uarea[~empty].sum(), 1.0)
        w[empty] = uarea[empty] * ratio
        summary["assumptions"].append(
            {
                "what": "compound_without_buildings",
                "count": int(empty.sum()),
                "text_zh": f"无住宅建筑的小区按用地面积 × 平均毛容积率 {ratio:.2f} 估算住宅建筑面积",
            }
        )
    return w


def _household_weights(geo, buildings_m, units_m, residents, params) -> np.ndarray:
    """Households per unit before reconciliation: given (compound, or all its buildings), else residents / pph."""
    n = len(units_m)
    h = residents / params.persons_per_household
    bh = pd.to_numeric(buildings_m.get("households", pd.Series(np.nan, index=buildings_m.index)), errors="coerce")
    bh = bh.to_numpy(dtype=float)
    ok = geo.building_unit >= 0
    if ok.any():
        known = np.bincount(geo.building_unit[ok], weights=np.isfinite(bh[ok]), minlength=n)
        count = np.bincount(geo.building_unit[ok], minlength=n)
        total = np.bincount(geo.building_unit[ok], weights=np.nan_to_num(bh[ok]), minlength=n)
        full = (count > 0) & (known == count)
        h = np.where(full, total, h)
    given = units_m["given_households"].to_numpy(dtype=float)
    return np.where(np.isfinite(given), given, h)


def compute_units(
    buildings: gpd.GeoDataFrame | None,
    residential_areas: gpd.GeoDataFrame | None,
    roads: gpd.GeoDataFrame | None,
    areas: gpd.GeoDataFrame,
    params: UnitsParams,
) -> UnitsResult:
    """Population units with integer residents and households.

    Parameters
    ----------
    buildings : GeoDataFrame, optional
        Footprints (any CRS): ``name``, ``floors``, ``height_m`` (m), ``use``, ``households``, ``compound_id``.
    residential_areas : GeoDataFrame, optional
        ``kind`` (``compound`` | ``residential_land``), ``name``, ``residents``, ``households``; compounds are units.
    roads : GeoDataFrame, optional
        Centre lines bounding street blocks.
    areas : GeoDataFrame
        Statistical areas (any CRS): ``level`` (district/county, street, community, grid), ``code``, ``name``.
    params : UnitsParams
        Totals, norms, raster.

    Returns
    -------
    UnitsResult
        Units in EPSG:4326; residents sum exactly to every matched total (upper level trusted on conflicts) and
        households likewise; the summary lists inputs, method, assumptions, nesting, mismatches and checks.

    Raises
    ------
    InputError
        Totals that match no area, a level without areas, bad buildings or counts, a raster without CRS.
    """
    areas = _prepare_areas(areas)
    base = areas if len(areas) else buildings
    if base is None or len(base) == 0:
        raise InputError("no areas and no buildings", "没有行政区划和建筑数据，无法生成人口单元")
    crs = metric_crs_for(base)
    areas_m = _project(areas, crs, "行政区划")
    buildings_m = _project(buildings, crs, "建筑图层")
    ra = _project(residential_areas, crs, "居住用地图层")
    kind = ra["kind"] if "kind" in ra.columns else pd.Series("compound", index=ra.index)
    compounds = ra[kind.fillna("compound").to_numpy() == "compound"].reset_index(drop=True)
    _check_counts(compounds, "小区")
    summary = _summary_start(params, areas_m, buildings_m, compounds, roads, crs)
    params, folded = fold_grid_totals(params, areas_m)
    summary["assumptions"].extend(folded)
    matched = _match_all(areas_m, params, summary)
    bw = None
    if len(buildings_m):
        floors = dict(params.default_floors)
        bw = building_weights(
            buildings_m,
            storey_height_m=params.storey_height_m,
            mixed_use_residential_share=params.mixed_use_residential_share,
            default_floors=floors,
        )
        summary["assumptions"].extend(bw.assumptions)
    lines = [np.asarray(_project(roads, crs, "道路图层").geometry.values, dtype=object)]
    lines.append(shapely.boundary(np.asarray(areas_m.geometry.values, dtype=object)))
    floor_area = bw.floor_area_m2 if bw is not None else np.zeros(len(buildings_m))
    geo = make_units(buildings_m, floor_area, compounds, np.concatenate(lines))
    units_m = geo.units
    weights = _unit_weights(geo, bw, units_m, params, summary)
    keep = (weights > 0) | np.isfinite(units_m["given_residents"].to_numpy(dtype=float))
    units_m, weights = units_m[keep].reset_index(drop=True), weights[keep]
    remap = np.full(len(keep), -1)
    remap[np.flatnonzero(keep)] = np.arange(int(keep.sum()))
    geo.building_unit = np.where(geo.building_unit >= 0, remap[np.maximum(geo.building_unit, 0)], -1)
    geo.units = units_m
    points = shapely.point_on_surface(np.asarray(units_m.geometry.values, dtype=object))
    res_tiers, hh_tiers = _tiers(areas_m, matched, points, params, summary)
    n = len(units_m)
    unit_ids = np.arange(n)
    res_tiers.append(Tier("unit", unit_ids, _given(units_m, "given_residents"), dict(enumerate(units_m["name"]))))
    hh_tiers.append(Tier("unit", unit_ids, _given(units_m, "given_households"), dict(enumerate(units_m["name"]))))
    res = allocate(n, res_tiers, weights)
    hw = _household_weights(geo, buildings_m, units_m, res.values.astype(float), params)
    hh = allocate(n, hh_tiers, hw, derive=lambda idx: int(round(hw[idx].sum())) if res.covered[idx].any() else None)
    out = _output(units_m, res, hh, weights, areas_m, points)
    _finish_summary(summary, out, res, hh, res_tiers, hh_tiers, areas_m)
    return UnitsResult(out, summary)


def _given(units_m: gpd.GeoDataFrame, col: str) -> dict[int, float]:
    v = units_m[col].to_numpy(dtype=float)
    return {int(i): float(v[i]) for i in np.flatnonzero(np.isfinite(v))}


def _check_counts(frame: pd.DataFrame, what: str) -> None:
    for col, zh in (("residents", "人口"), ("households", "户数")):
        if col not in frame.columns:
            continue
        raw = frame[col]
        v = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        bad = (raw.notna().to_numpy() & ~np.isfinite(v)) | (np.isfinite(v) & ((v < 0) | (v != np.round(v))))
        if bad.any():
            names = frame["name"].astype(str).to_numpy()[bad] if "name" in frame.columns else np.flatnonzero(bad)
            raise InputError(
                f"{what}: {col} must be non-negative integers",
                f"{what}的{zh}须为非负整数，未写入任何数据：" + "、".join(map(str, names[:10])),
            )


def _match_all(areas_m, params, summary) -> dict[int, TotalRow]:
    matched: dict[int, TotalRow] = {}
    missing: list[str] = []
    for level in params.levels:
        if not (areas_m["level"] == level).any():
            raise InputError(
                f"totals of level {level} but no areas of that level",
                f"给出了{LEVEL_ZH[level]}级统计数，但行政区划中没有{LEVEL_ZH[level]}级区域，未写入任何数据",
            )
        got, miss = _match([r for r in params.totals if r.level == level], areas_m, level)
        matched.update(got)
        missing.extend(miss)
        without = [
            str(areas_m.at[i, "name"] or areas_m.at[i, "code"])
            for i in areas_m.index[areas_m["level"] == level]
            if int(i) not in got
        ]
        if without:
            summary["areas_without_totals"].append({"level": level, "areas": without})
    if missing:
        raise InputError(
            f"{len(missing)} total(s) match no area",
            f"{len(missing)} 条统计数找不到对应区域（按代码、再按名称匹配），未写入任何数据："
            + "、".join(missing[:30]),
        )
    return matched


def match_totals(areas: pd.DataFrame, params: UnitsParams) -> dict:
    """Check the totals against the statistical areas by code, then name, per level (nothing is computed).

    Parameters
    ----------
    areas : DataFrame
        ``level`` (county/district, street, community, grid), ``code``, ``name``; geometry not needed.
    params : UnitsParams

    Returns
    -------
    dict
        ``matched`` (totals matched per level), ``areas_without_totals`` (per level, the areas no total names) and
        ``notes_zh`` (grid totals summed into communities when there are no grid outlines: :mod:`population.fold`).

    Raises
    ------
    InputError
        A level of the totals without areas, or totals that match no area (named, in Chinese).
    """
    areas = _prepare_areas(pd.DataFrame(areas).reset_index(drop=True))
    summary: dict = {"areas_without_totals": []}
    params, folded = fold_grid_totals(params, areas)
    matched = _match_all(areas, params, summary)
    levels = areas["level"].to_numpy(dtype=object)
    counts = pd.Series([levels[i] for i in matched], dtype=object).value_counts()
    return {
        "matched": {str(k): int(v) for k, v in counts.items()},
        "areas_without_totals": summary["areas_without_totals"],
        "notes_zh": [a["text_zh"] for a in folded],
    }


def _summary_start(params, areas_m, buildings_m, compounds, roads, crs) -> dict:
    by_level = areas_m["level"].value_counts().to_dict() if len(areas_m) else {}
    return {
        "inputs": {
            "buildings": len(buildings_m),
            "compounds": len(compounds),
            "roads": 0 if roads is None else len(roads),
            "areas_by_level": {str(k): int(v) for k, v in by_level.items()},
            "totals_sources": list(params.sources),
            "totals_rows_by_level": {lv: sum(r.level == lv for r in params.totals) for lv in params.levels},
            "raster": params.raster,
        },
        "method": {
            "metric_crs": f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.name,
            "units": "compounds; else street blocks (polygonised roads and area boundaries); else buildings",
            "allocation": "top-down by level and nesting, largest-remainder integers; upper level trusted on conflict",
            "households": "given where known, else residents / persons per household, reconciled the same way",
            "storey_height_m": params.storey_height_m,
            "persons_per_household": params.persons_per_household,
            "mixed_use_residential_share": params.mixed_use_residential_share,
            "default_floors": dict(params.default_floors),
        },
        "assumptions": [],
        "nesting": [],
        "areas_without_totals": [],
    }  # fmt: skip


def _output(units_m, res: Allocation, hh: Allocation, weights, areas_m, points) -> gpd.GeoDataFrame:
    streets = np.flatnonzero((areas_m["level"] == "street").to_numpy())
    sgeo = np.asarray(areas_m.geometry.values, dtype=object)[streets]
    depth, _ = nesting_depth(sgeo)
    sid = _groups_of(points, sgeo[depth == 0], streets[depth == 0])
    codes = np.array([None, *areas_m["code"].to_numpy(dtype=object)], dtype=object)[sid + 1]
    out = gpd.GeoDataFrame(
        {
            "source_id": units_m["source_id"].to_numpy(),
            "name": units_m["name"].to_numpy(),
            "unit_type": np.where(units_m["unit_basis"] == "compound", "compound", "block"),
            "unit_basis": units_m["unit_basis"].to_numpy(),
            "residents": res.values,
            "households": hh.values,
            "street_code": codes,
            "weight": np.round(weights, 1),
            "covered": res.covered,
        },
        geometry=units_m.geometry.values,
        crs=units_m.crs,
    ).to_crs(4326)
    out["geometry"] = shapely.force_2d(out.geometry.values)
    return out


def _finish_summary(summary, out, res, hh, res_tiers, hh_tiers, areas_m) -> None:
    summary["units"] = {
        "count": len(out),
        "by_basis": {str(k): int(v) for k, v in out["unit_basis"].value_counts().items()},
        "residents": int(out["residents"].sum()),
        "households": int(out["households"].sum()),
        "uncovered": int((~res.covered).sum()),
    }
    summary["mismatches"] = [{**m, "what": "residents", "text_zh": _mismatch_zh(m, "人口")} for m in res.mismatches] + [
        {**m, "what": "households", "text_zh": _mismatch_zh(m, "户数")} for m in hh.mismatches
    ]
    checks = []
    for what, tiers, values in (("residents", res_tiers, res.values), ("households", hh_tiers, hh.values)):
        for t in tiers[:-1]:
            if not t.given:
                continue
            ok = t.groups >= 0
            sums = np.bincount(t.groups[ok], weights=values[ok], minlength=max(t.given) + 1)
            exact = sum(int(sums[g]) == int(round(v)) for g, v in t.given.items())
            given = int(round(sum(t.given.values())))
            allocated = int(sum(int(sums[g]) for g in t.given))
            checks.append(
                {
                    "what": what,
                    "tier": t.name,
                    "areas": len(t.given),
                    "exact": int(exact),
                    "given": given,
                    "allocated": allocated,
                }
            )
    summary["checks"] = checks


def _mismatch_zh(m: dict, what: str) -> str:
    lvl = m["tier"].split("~")[0]
    return (
        f"「{m['parent'] or '全域'}」的{what} {m['parent_total']} 与其下{LEVEL_ZH.get(lvl, lvl)}"
        f"统计数之和 {m['children_sum']} 不一致：以上级数为准，下级按比例调整"
    )


def summary_lines(summary: dict) -> list[str]:
    """The summary in Chinese, one line per fact, for the CLI and the job result."""
    i, m, u = summary["inputs"], summary["method"], summary["units"]
    lines = [
        f"输入：建筑 {i['buildings']} 栋，小区 {i['compounds']} 个，道路 {i['roads']} 条，"
        f"统计区域 {i['areas_by_level']}，统计数 {i['totals_rows_by_level']}（{'、'.join(i['totals_sources'])}）"
        + (f"，人口栅格 {i['raster']}" if i["raster"] else ""),
        f"方法：单元 = 小区 / 街坊（道路围合）/ 单栋建筑；权重 = {m['weights']}；投影 {m['metric_crs']}；"
        f"自上而下按最大余数法取整分配；户均 {m['persons_per_household']} 人",
        f"结果：人口单元 {u['count']} 个 {u['by_basis']}，常住人口 {u['residents']} 人，{u['households']} 户",
    ]
    lines += [f"假设：{a['text_zh']}（{a['count']} 处）" for a in summary["assumptions"]]
    lines += [f"包含关系：{n['text_zh']}" for n in summary["nesting"]]
    lines += [f"不一致：{x['text_zh']}" for x in summary["mismatches"]]
    for a in summary["areas_without_totals"]:
        lines.append(f"无统计数的{LEVEL_ZH[a['level']]}：" + "、".join(a["areas"][:30]))
    if u["uncovered"]:
        lines.append(f"未被任何统计数覆盖的单元 {u['uncovered']} 个（人口记为 0）")
    for c in summary["checks"]:
        what = "人口" if c["what"] == "residents" else "户数"
        lines.append(
            f"核对 {c['tier']} {what}：{c['exact']}/{c['areas']} 个区域与统计数完全一致"
            f"（分配 {c['allocated']}，统计 {c['given']}）"
        )
    return lines


__all__ += ["summary_lines", "LEVELS"]
