"""Two states side by side (baseline and a scenario, or two scenarios): summary table and difference tables.

* :func:`summary_table` — per category the residents covered in A and B, newly covered and newly uncovered
  (units matched by ``unit_id``; a new unit of a development counts as newly covered when covered); the
  service-space gap (m², audit) in A and B and the gap closed; persons without a shelter place in A and B; the cost
  inputs of A and B.
* :func:`unit_changes` — per unit (EPSG:4326 polygons) the categories gained and lost (``change``: gained, lost,
  mixed, same).
* :func:`community_changes` — per community (polygons of B's plan, else A's) the service-space gap in A and B, m².
* :func:`shelter_changes` — per shelter (points) the persons assigned in A and B.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.core.vocab import FACILITY_CATEGORIES

from .analyses import WhatIfResult

CHANGE_ZH = {"gained": "新增覆盖", "lost": "失去覆盖", "mixed": "有增有减", "same": "无变化"}
BASELINE_NAMES = ("baseline", "现状", "0")


def is_baseline(ref) -> bool:
    """Whether ``ref`` names the current layers (``baseline``, ``现状``, ``0`` or nothing) rather than a scenario."""
    return ref is None or str(ref).strip().lower() in BASELINE_NAMES


def _covered(result: WhatIfResult) -> tuple[pd.DataFrame, list[str]]:
    """``unit_id`` -> residents and ``<c>_covered`` of every category (False for a category not analysed)."""
    if result.coverage is None:
        return pd.DataFrame(columns=["residents"]), []
    u = result.coverage.units
    cats = list(result.coverage.rules)
    frame = pd.DataFrame(
        {"residents": u["residents"].to_numpy(dtype=float), **{c: u[f"{c}_covered"].to_numpy(bool) for c in cats}},
        index=pd.Index(u["unit_id"].to_numpy(), name="unit_id"),
    )
    return frame, cats


def coverage_changes(a: WhatIfResult, b: WhatIfResult) -> pd.DataFrame:
    """Per category: ``residents_covered_a``, ``residents_covered_b``, ``newly_covered``, ``newly_uncovered``
    (persons), ``rate_a``, ``rate_b`` (fractions of the residents of each state)."""
    fa, ca = _covered(a)
    fb, cb = _covered(b)
    cats = [c for c in cb if c in ca] + [c for c in cb if c not in ca] + [c for c in ca if c not in cb]
    ids = fa.index.union(fb.index)
    ra = fa["residents"].reindex(ids).fillna(0.0).to_numpy()
    rb = fb["residents"].reindex(ids).fillna(0.0).to_numpy()
    rows = []
    for c in cats:
        was = fa[c].reindex(ids).astype("boolean").fillna(False).to_numpy(bool) if c in fa else np.zeros(len(ids), bool)
        now = fb[c].reindex(ids).astype("boolean").fillna(False).to_numpy(bool) if c in fb else np.zeros(len(ids), bool)
        rows.append(
            {
                "category": c,
                "category_zh": FACILITY_CATEGORIES.get(c, c),
                "residents_covered_a": int(round(ra[was].sum())),
                "residents_covered_b": int(round(rb[now].sum())),
                "newly_covered": int(round(rb[now & ~was].sum())),
                "newly_uncovered": int(round(ra[was & ~now].sum())),
                "rate_a": float(ra[was].sum() / ra.sum()) if ra.sum() else None,
                "rate_b": float(rb[now].sum() / rb.sum()) if rb.sum() else None,
            }
        )
    return pd.DataFrame(rows)


def _gap(result: WhatIfResult) -> float | None:
    if result.audit is None:
        return None
    return float(result.audit.totals.get("service_floor_gap_m2", np.nan))


def _unplaced(result: WhatIfResult) -> int | None:
    return None if result.shelters is None else int(result.shelters.totals["unplaced_before"])


def summary_table(a: WhatIfResult, b: WhatIfResult) -> dict:
    """The comparison's summary as JSON values (see the module docstring)."""
    gap_a, gap_b = _gap(a), _gap(b)
    un_a, un_b = _unplaced(a), _unplaced(b)
    res_a = None if a.coverage is None else int(a.coverage.units["residents"].sum())
    res_b = None if b.coverage is None else int(b.coverage.units["residents"].sum())
    cov = coverage_changes(a, b)
    return {
        "a": a.label,
        "b": b.label,
        "residents_a": res_a,
        "residents_b": res_b,
        "categories": [{k: (None if v is None or v != v else v) for k, v in r.items()} for r in cov.to_dict("records")],
        "newly_covered": int(cov["newly_covered"].sum()) if len(cov) else 0,
        "newly_uncovered": int(cov["newly_uncovered"].sum()) if len(cov) else 0,
        "service_gap_m2_a": None if gap_a is None else round(gap_a, 1),
        "service_gap_m2_b": None if gap_b is None else round(gap_b, 1),
        "service_gap_closed_m2": None if gap_a is None or gap_b is None else round(gap_a - gap_b, 1),
        "unplaced_a": un_a,
        "unplaced_b": un_b,
        "unplaced_change": None if un_a is None or un_b is None else un_b - un_a,
        "cost_inputs_a": _costs(a.cost_inputs),
        "cost_inputs_b": _costs(b.cost_inputs),
        "cost_total_yuan_a": _cost_total(a.cost_inputs),
        "cost_total_yuan_b": _cost_total(b.cost_inputs),
        "how_a": dict(a.how),
        "how_b": dict(b.how),
        "notes": [*a.notes, *[n for n in b.notes if n not in a.notes]],
    }


def _costs(costs: dict) -> list[dict]:
    return [{"item": k, "yuan": v.get("yuan"), "note": v.get("note")} for k, v in costs.items()]


def _cost_total(costs: dict) -> float | None:
    values = [v.get("yuan") for v in costs.values() if v.get("yuan") is not None]
    return float(sum(values)) if values else None


def unit_changes(a: WhatIfResult, b: WhatIfResult) -> gpd.GeoDataFrame:
    """Per unit: ``unit_id``, ``name``, ``residents`` (B, else A), ``gained``/``lost`` (categories, Chinese, joined by
    、), ``n_gained``, ``n_lost``, ``change`` and ``change_zh``; EPSG:4326 polygons."""
    fa, ca = _covered(a)
    fb, cb = _covered(b)
    geo = []
    for r in (b, a):
        if r.coverage is not None:
            geo.append(r.coverage.units[["unit_id", "name", "geometry"]])
    if not geo:
        return gpd.GeoDataFrame({"unit_id": []}, geometry=[], crs=4326)
    units = pd.concat(geo, ignore_index=True).drop_duplicates("unit_id")
    ids = pd.Index(units["unit_id"].to_numpy())
    cats = [c for c in cb if c in ca] + [c for c in cb if c not in ca] + [c for c in ca if c not in cb]
    gained = [[] for _ in range(len(ids))]
    lost = [[] for _ in range(len(ids))]
    for c in cats:
        was = fa[c].reindex(ids).astype("boolean").fillna(False).to_numpy(bool) if c in fa else np.zeros(len(ids), bool)
        now = fb[c].reindex(ids).astype("boolean").fillna(False).to_numpy(bool) if c in fb else np.zeros(len(ids), bool)
        for i in np.flatnonzero(now & ~was):
            gained[i].append(c)
        for i in np.flatnonzero(was & ~now):
            lost[i].append(c)
    n_g = np.array([len(g) for g in gained])
    n_l = np.array([len(x) for x in lost])
    change = np.where((n_g > 0) & (n_l > 0), "mixed", np.where(n_g > 0, "gained", np.where(n_l > 0, "lost", "same")))
    residents = fb["residents"].reindex(ids).fillna(fa["residents"].reindex(ids)).fillna(0).to_numpy()
    return gpd.GeoDataFrame(
        {
            "unit_id": ids.to_numpy(),
            "name": units["name"].to_numpy(dtype=object),
            "residents": residents.round().astype(np.int64),
            "in_a": ids.isin(fa.index),
            "in_b": ids.isin(fb.index),
            "gained": ["、".join(FACILITY_CATEGORIES.get(c, c) for c in g) for g in gained],
            "lost": ["、".join(FACILITY_CATEGORIES.get(c, c) for c in x) for x in lost],
            "gained_categories": [",".join(g) for g in gained],
            "lost_categories": [",".join(x) for x in lost],
            "n_gained": n_g,
            "n_lost": n_l,
            "change": change,
            "change_zh": [CHANGE_ZH[c] for c in change],
        },
        geometry=units.geometry.to_numpy(),
        crs=4326,
    )


def _community_gaps(result: WhatIfResult) -> pd.DataFrame:
    if result.audit is None:
        return pd.DataFrame(columns=["community_code", "name", "gap"])
    cm = result.audit.communities
    return pd.DataFrame(
        {
            "community_code": cm["community_code"].astype(str).to_numpy(),
            "name": cm["name"].to_numpy(dtype=object),
            "gap": pd.to_numeric(cm["service_floor_gap_m2"], errors="coerce").to_numpy(dtype=float),
        }
    )


def community_changes(a: WhatIfResult, b: WhatIfResult) -> gpd.GeoDataFrame:
    """Per community: ``community_code``, ``name``, ``gap_m2_a``, ``gap_m2_b``, ``gap_change_m2`` (B - A, m²;
    negative: gap closed); polygons of B's plan, else A's (EPSG:4326)."""
    ga, gb = _community_gaps(a), _community_gaps(b)
    m = ga.merge(gb, on="community_code", how="outer", suffixes=("_a", "_b"))
    geoms = {}
    for r in (a, b):
        if r.audit is not None:
            geoms.update(zip(r.audit.communities["community_code"].astype(str), r.audit.communities.geometry))
    m["name"] = m["name_b"].fillna(m["name_a"]) if len(m) else []
    out = pd.DataFrame(
        {
            "community_code": m["community_code"].to_numpy(dtype=object),
            "name": m["name"].to_numpy(dtype=object) if len(m) else [],
            "gap_m2_a": m["gap_a"].round(1).to_numpy(dtype=float),
            "gap_m2_b": m["gap_b"].round(1).to_numpy(dtype=float),
        }
    )
    out["gap_change_m2"] = (out["gap_m2_b"] - out["gap_m2_a"]).round(1)
    return gpd.GeoDataFrame(out, geometry=[geoms.get(c) for c in out["community_code"]], crs=4326)


def shelter_changes(a: WhatIfResult, b: WhatIfResult) -> gpd.GeoDataFrame:
    """Per shelter: ``shelter_id``, ``name``, ``capacity_persons``, ``load_a``, ``load_b``, ``load_change``
    (persons; a shelter absent from a state has no load there), ``in_a``, ``in_b``; EPSG:4326."""
    frames = []
    for tag, r in (("a", a), ("b", b)):
        if r.shelters is None:
            continue
        s = r.shelters.shelters
        frames.append(
            gpd.GeoDataFrame(
                {
                    "shelter_id": s["shelter_id"].to_numpy(),
                    "name": s["name"].to_numpy(dtype=object),
                    "capacity_persons": pd.to_numeric(s["capacity_persons"], errors="coerce").to_numpy(dtype=float),
                    f"load_{tag}": s["load_before"].to_numpy(dtype=float),
                },
                geometry=s.geometry.to_numpy(),
                crs=4326,
            )
        )
    if not frames:
        return gpd.GeoDataFrame({"shelter_id": []}, geometry=[], crs=4326)
    if len(frames) == 1:
        only = frames[0]
        other = "load_b" if "load_a" in only else "load_a"
        only[other] = np.nan
        m = only
    else:
        fa, fb = frames
        m = fb.merge(fa.drop(columns="geometry"), on="shelter_id", how="outer", suffixes=("", "_old"))
        m["name"] = m["name"].fillna(m["name_old"])
        m["capacity_persons"] = m["capacity_persons"].fillna(m["capacity_persons_old"])
        geo = dict(zip(fa["shelter_id"], fa.geometry)) | dict(zip(fb["shelter_id"], fb.geometry))
        m = gpd.GeoDataFrame(
            m.drop(columns=["name_old", "capacity_persons_old", "geometry"]),
            geometry=[geo[i] for i in m["shelter_id"]],
            crs=4326,
        )
    m["in_a"] = m["load_a"].notna()
    m["in_b"] = m["load_b"].notna()
    m["load_change"] = m["load_b"].fillna(0) - m["load_a"].fillna(0)
    cols = ["shelter_id", "name", "capacity_persons", "load_a", "load_b", "load_change", "in_a", "in_b", "geometry"]
    return m[cols].sort_values("shelter_id", kind="stable").reset_index(drop=True)


@dataclass
class Comparison:
    """Two states compared: the JSON summary and the difference layers (EPSG:4326)."""

    summary: dict
    units: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        return {"units": self.units, "communities": self.communities, "shelters": self.shelters}


def compare_results(a: WhatIfResult, b: WhatIfResult) -> Comparison:
    shelters = shelter_changes(a, b)
    summary = summary_table(a, b)
    summary["notes"] += [n for n in idle_shelter_notes(shelters, a.label, b.label) if n not in summary["notes"]]
    return Comparison(summary, unit_changes(a, b), community_changes(a, b), shelters)


def idle_shelter_notes(shelters: gpd.GeoDataFrame, label_a: str, label_b: str) -> list[str]:
    """Chinese notes on shelters with places that receive nobody in one state but are new there or received
    persons in the other (an added or moved shelter out of walking reach of every unit, or off the network)."""
    if not len(shelters):
        return []
    cap = shelters["capacity_persons"].fillna(0).to_numpy(dtype=float) > 0
    notes = []
    for this, other, lab, lab_other in (("b", "a", label_b, label_a), ("a", "b", label_a, label_b)):
        load, load_other = shelters[f"load_{this}"], shelters[f"load_{other}"]
        idle = shelters[f"in_{this}"].to_numpy(dtype=bool) & (load.fillna(0).to_numpy() == 0) & cap
        for i in np.flatnonzero(idle & ~shelters[f"in_{other}"].to_numpy(dtype=bool)):
            notes.append(
                f"避难场所「{shelters['name'].iloc[i]}」在「{lab}」中未安置任何人（「{lab_other}」中没有它）："
                "其步行范围内没有人口单元，或离步行网络过远。"
            )
        for i in np.flatnonzero(idle & (load_other.fillna(0).to_numpy() > 0)):
            notes.append(
                f"避难场所「{shelters['name'].iloc[i]}」在「{lab}」中未安置任何人（「{lab_other}」中安置 "
                f"{int(load_other.iloc[i]):,} 人）：其步行范围内没有人口单元，或离步行网络过远。"
            )
    return notes
