"""The report's fields: figures formatted for Chinese text, and the rows of its tables (per street, per
category, per community), all taken from :class:`~maps.annual_report.data.ReportInputs`.

Every value handed to the template is a string (numbers already formatted with thousands separators, shares as
percentages), so a county's template needs no filters. The fields are listed in :data:`FIELDS`.
"""

from __future__ import annotations

import pandas as pd

from geo_service.core import vocab

from .data import ReportInputs

DASH = "—"
STATUS_ZH = {"verified": "已核实", "secondary": "二手来源", "unverified": "未核实（默认值）"}
LEVEL_ZH = {"5min": "5分钟", "10min": "10分钟", "15min": "15分钟", "block": "居住街坊"}


# ----------------------------------------------------------------------------- formatting
def num(x, digits: int = 0) -> str:
    """``x`` with thousands separators and ``digits`` decimals; a dash for None/NaN."""
    if x is None or pd.isna(x):
        return DASH
    return f"{float(x):,.{digits}f}"


def pct(x, digits: int = 1) -> str:
    """A share (0..1) as a percentage; a dash for None/NaN."""
    if x is None or pd.isna(x):
        return DASH
    return f"{float(x) * 100:.{digits}f}%"


def yes_no(x) -> str:
    return "是" if bool(x) else "否"


def street_names(inputs: ReportInputs) -> dict[str, str]:
    """Street code -> name, in code order."""
    s = inputs.streets.sort_values("code")
    return dict(zip(s["code"].astype(str), s["name"].astype(str)))


# ----------------------------------------------------------------------------- Art. 3
def art3(inputs: ReportInputs) -> dict:
    """Communities of the adopted plan against the household band (条例第三条), city-wide and per street."""
    ev = inputs.evaluation
    tot = ev.totals
    comm = pd.DataFrame(ev.communities.drop(columns=["geometry", "geometry_wgs84"], errors="ignore"))
    comm["below"] = comm["households"] < comm["band_min"]
    comm["above"] = comm["households"] > comm["band_max"]
    names = street_names(inputs)
    rows = []
    for code, name in names.items():
        c = comm[comm["street_code"].astype(str) == code]
        if c.empty:
            continue
        rows.append(
            {
                "street": name,
                "communities": num(len(c)),
                "households": num(c["households"].sum()),
                "residents": num(c["residents"].sum()),
                "in_band": num(int(c["in_band"].sum())),
                "below": num(int(c["below"].sum())),
                "above": num(int(c["above"].sum())),
                "range": f"{num(c['households'].min())}–{num(c['households'].max())}",
                "workers": num(c["community_workers"].sum()) if c["community_workers"].notna().any() else DASH,
                "workers_needed": num(c["workers_needed"].sum()),
            }
        )
    lo, hi = tot["band"]
    flags = tot.get("flag_counts") or {}
    return {
        "communities": num(tot["communities"]),
        "band": f"{num(lo)}–{num(hi)}",
        "in_band": num(tot["in_band"]),
        "in_band_share": pct(tot["in_band_share"]),
        "below": num(int(comm["below"].sum())),
        "above": num(int(comm["above"].sum())),
        "households_min": num(tot["households_min"]),
        "households_max": num(tot["households_max"]),
        "households_mean": num(tot["households_mean"]),
        "contiguous": num(tot["contiguous"]),
        "workers": num(tot["community_workers"]),
        "workers_known": bool(comm["community_workers"].notna().any()),
        "workers_missing": int(comm["community_workers"].isna().sum()),
        "workers_needed": num(tot["workers_needed"]),
        "workers_per_10000": num(tot["workers_per_10000"]),
        "workers_short": num(flags.get("workers_short", 0)),
        "no_station": num(flags.get("no_station_within_5min", 0)),
        "station_reach_share": pct(tot.get("station_reach_share")),
        "streets": rows,
    }


# ----------------------------------------------------------------------------- Art. 12
def _weakest(row: pd.Series, cats: list[str]) -> tuple[str, float]:
    rates = {c: row.get(f"{c}_rate") for c in cats if f"{c}_rate" in row.index and pd.notna(row.get(f"{c}_rate"))}
    if not rates:
        return DASH, float("nan")
    c = min(rates, key=lambda k: rates[k])
    return vocab.FACILITY_CATEGORIES.get(c, c), float(rates[c])


def art12(inputs: ReportInputs) -> dict:
    """Life-circle coverage (条例第十二条): per level, per category and per street."""
    s = inputs.coverage["summary"]
    levels = [
        {
            "level": LEVEL_ZH.get(lv["level"], lv["level"]),
            "walk_m": num(lv["walk_m"]),
            "required": num(len(lv.get("required") or [])),
            "rate": pct(lv["complete_rate"]),
            "straight_rate": pct(lv["complete_straight_rate"]),
        }
        for lv in s["levels"]
    ]
    cats = [
        {
            "category": c["category_zh"],
            "level": LEVEL_ZH.get(c["level"], c["level"]),
            "threshold_m": num(c["threshold_m"]),
            "facilities": num(c["facilities"]),
            "rate": pct(c["walk_rate"]),
            "straight_rate": pct(c["straight_rate"]),
        }
        for c in s["categories"]
    ]
    five = next((lv.get("required") or [] for lv in s["levels"] if lv["level"] == "5min"), [])
    names = street_names(inputs)
    st = inputs.coverage_tables.get("streets")
    rows = []
    if st is not None:
        st = st.set_index(st["street_code"].astype(str))
        for code, name in names.items():
            if code not in st.index:
                continue
            r = st.loc[code]
            weak, weak_rate = _weakest(r, five)
            rows.append(
                {
                    "street": name,
                    "residents": num(r.get("residents")),
                    "rate_5min": pct(r.get("complete_5min_rate")),
                    "rate_10min": pct(r.get("complete_10min_rate")),
                    "rate_15min": pct(r.get("complete_15min_rate")),
                    "weakest": weak,
                    "weakest_rate": pct(weak_rate),
                }
            )
    by_rate = sorted(s["categories"], key=lambda c: c["walk_rate"])
    target = inputs.norms.entry("coverage.walk_15min_national_2025").value
    lv15 = next((lv for lv in s["levels"] if lv["level"] == "15min"), None)
    return {
        "residents": num(s["residents"]),
        "units": num(s["units"]),
        "walking_speed": num(s["walking_speed_mps"], 1),
        "unreachable_residents": num(s["unreachable_residents"]),
        "levels": levels,
        "categories": cats,
        "weakest": "、".join(f"{c['category_zh']}（{pct(c['walk_rate'])}）" for c in by_rate[:3]),
        "strongest": "、".join(f"{c['category_zh']}（{pct(c['walk_rate'])}）" for c in by_rate[::-1][:3]),
        "target_15min": pct(target, 0),
        "rate_15min": pct(lv15["complete_rate"]) if lv15 else DASH,
        "meets_target": yes_no(lv15 is not None and lv15["complete_rate"] >= target),
        "streets": rows,
    }


# ----------------------------------------------------------------------------- Art. 15
def art15(inputs: ReportInputs) -> dict:
    """Emergency shelters (条例第十五条): places within the walking limit, fixed-shelter share, central shelters."""
    s = inputs.audit["summary"]
    e = s.get("emergency") or {}
    t = inputs.audit_tables
    shelters = t.get("shelters")
    share = t.get("shelter_share")
    streets = t.get("streets")
    share = share.set_index(share["area_code"].astype(str)) if share is not None else None
    streets = streets.set_index(streets["street_code"].astype(str)) if streets is not None else None
    rows = []
    for code, name in street_names(inputs).items():
        sh = shelters[shelters["street_code"].astype(str) == code] if shelters is not None else None
        st = streets.loc[code] if streets is not None and code in streets.index else None
        sr = share.loc[code] if share is not None and code in share.index else None
        demand = None if st is None else st.get("emergency_demand")
        unplaced = None if st is None else st.get("emergency_unplaced")
        rows.append(
            {
                "street": name,
                "shelters": num(0 if sh is None else len(sh)),
                "capacity": num(0 if sh is None else sh["capacity_persons"].fillna(0).sum()),
                "demand": num(demand),
                "unplaced": num(unplaced),
                "unplaced_share": pct(unplaced / demand) if demand and unplaced is not None else DASH,
                "fixed_share": pct(None if sr is None else sr.get("share")),
                "fixed_ok": DASH if sr is None or pd.isna(sr.get("meets_norm")) else yes_no(sr["meets_norm"]),
            }
        )
    central = [
        {
            "name": str(c["name"]),
            "residents": num(c["served_residents"]),
            "km2": num(c["served_built_up_km2"], 1),
            "ok": yes_no(c["within_population_limit"] and c["within_area_limit"]),
        }
        for c in s.get("central_shelter_checks") or []
    ] or [{"name": "（无中心避难场所）", "residents": DASH, "km2": DASH, "ok": DASH}]
    wp = e.get("with_plan") or {}
    demand = e.get("demand_persons") or 0
    return {
        "shelters": num(s.get("shelters")),
        "walk_limit_m": num(e.get("walk_limit_m")),
        "demand": num(e.get("demand_persons")),
        "placed": num(e.get("placed")),
        "unplaced": num(e.get("unplaced")),
        "unplaced_share": pct(e["unplaced"] / demand) if demand else DASH,
        "unplaced_nearest_first": num(e.get("unplaced_nearest_first")),
        "over_capacity": num(e.get("shelters_over_capacity_nearest_first")),
        "units_without_shelter": num(e.get("units_without_shelter_in_reach")),
        "mean_walk_m": num(e.get("mean_walk_m")),
        "placed_any": bool(e.get("placed") or 0),
        "capacity": num(e.get("capacity_persons")),
        "unplaced_with_plan": num(wp.get("unplaced")),
        "fixed_share": pct(s.get("fixed_share")),
        "fixed_min_share": pct(inputs.norms.entry("shelter.fixed_min_share").value, 0),
        "streets_below_fixed_share": num(s.get("streets_below_fixed_share")),
        "central": num(s.get("central_shelters")),
        "central_needed": num(s.get("central_shelters_needed")),
        "central_rows": central,
        "in_hazard": num(s.get("shelters_in_hazard_zones") or 0),
        "streets": rows,
    }


# ----------------------------------------------------------------------------- Art. 18
def art18(inputs: ReportInputs) -> dict:
    """Office and service space (条例第十八条): per street and the communities with most findings."""
    s = inputs.audit["summary"]
    names = street_names(inputs)
    streets = inputs.audit_tables.get("streets")
    rows = []
    if streets is not None:
        streets = streets.set_index(streets["street_code"].astype(str))
        for code, name in names.items():
            if code not in streets.index:
                continue
            r = streets.loc[code]
            rows.append(
                {
                    "street": name,
                    "communities": num(r.get("communities")),
                    "without_office": num(r.get("without_office")),
                    "with_space_gap": num(r.get("with_space_gap")),
                    "gap_m2": num(r.get("service_floor_gap_m2")),
                    "at_risk": num(r.get("facilities_at_risk")),
                    "developments_owing": num(r.get("developments_owing")),
                    "owed_m2": num(r.get("developments_owed_m2")),
                }
            )
    worst = [
        {
            "rank": str(w["rank"]),
            "name": str(w["name"]),
            "street": names.get(str(w["street_code"]), str(w["street_code"])),
            "issues": num(w["issues"]),
            "issues_zh": str(w["issues_zh"]),
        }
        for w in (s.get("worst_communities") or [])[:10]
    ]
    return {
        "communities": num(s["communities"]),
        "without_office": num(s["communities_without_office"]),
        "with_space_gap": num(s["communities_with_space_gap"]),
        "gap_m2": num(s["service_floor_gap_m2"]),
        "closable": num(s["communities_gap_closable_by_plan"]),
        "partly_closable": num(s["communities_gap_partly_closable"]),
        "not_closable": num(s["communities_gap_not_closable"]),
        "below_minimum": num(s["facilities_below_minimum"]),
        "at_risk": num(s["facilities_at_risk"]),
        "planned_not_built": num(s["facilities_planned_not_built"]),
        "developments": num(s.get("developments")),
        "developments_owing": num(s["developments_owing"]),
        "owed_m2": num(s["developments_owed_m2"]),
        "floor_per_100": num(inputs.norms.service_floor_m2_per_100_households),
        **_gap_plan_figures(s.get("gap_plan") or {}),
        "streets": rows,
        "worst": worst,
    }


def _gap_plan_figures(gp: dict) -> dict:
    """The gap plan of the audit (Art. 18 ¶2-3): how much idle assets, purchases, leases, swaps and extensions close."""
    return {
        "gap_needs": num(gp.get("needs") or 0),
        "gap_need_m2": num(gp.get("need_m2") or 0),
        "gap_closed_m2": num(gp.get("closed_m2") or 0),
        "gap_closed": num(gp.get("communities_closed") or 0),
        "gap_partly": num(gp.get("communities_partly") or 0),
        "gap_open": num(gp.get("communities_open") or 0),
        "gap_spaces": num(gp.get("spaces_used") or 0),
        "gap_cost_yuan": num(gp.get("cost_yuan") or 0),
    }
