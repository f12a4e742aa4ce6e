"""The template's fields (一份报告的全部字段): built from :class:`~maps.annual_report.data.ReportInputs`.

Top-level fields (:data:`FIELDS`) — a county's template may use any of them and must use :data:`REQUIRED`:

``year``, ``city_name``, ``county_code``, ``plan_name``, ``report_date``, ``synthetic_note``, ``totals``,
``art3``, ``art12``, ``art15``, ``art18`` (chapters: figures, ``streets`` rows, ``map`` image),
``street_sections`` (one table of communities per street), ``norms`` (the norms used), ``norms_override``.
"""

from __future__ import annotations

import datetime as _dt

import pandas as pd

from .data import ReportInputs
from .norms_list import norm_rows
from .tables import DASH, art3, art12, art15, art18, num, pct, street_names, yes_no

FIELDS = (
    "year",
    "city_name",
    "county_code",
    "plan_name",
    "report_date",
    "synthetic_note",
    "totals",
    "art3",
    "art12",
    "art15",
    "art18",
    "street_sections",
    "norms",
    "norms_override",
)
REQUIRED = ("year", "city_name", "art3", "art12", "art15", "art18", "norms")
MAPS = ("art3", "art12", "art15", "art18")  # chapters with a ``map`` field


def _band_status(households, lo, hi) -> str:
    if households < lo:
        return "偏少"
    if households > hi:
        return "偏多"
    return "达标"


def street_sections(inputs: ReportInputs) -> list[dict]:
    """Per street (街道分述): its communities with households, station coverage, office, space gap, unplaced."""
    ev = pd.DataFrame(inputs.evaluation.communities.drop(columns=["geometry", "geometry_wgs84"], errors="ignore"))
    ev["code"] = ev["code"].astype(str)
    cov = inputs.coverage_tables.get("communities")
    aud = inputs.audit_tables.get("communities")
    cov = cov.set_index(cov["community_code"].astype(str)) if cov is not None else pd.DataFrame()
    aud = aud.set_index(aud["community_code"].astype(str)) if aud is not None else pd.DataFrame()
    out = []
    for code, name in street_names(inputs).items():
        comm = ev[ev["street_code"].astype(str) == code].sort_values("code")
        rows = []
        for _, c in comm.iterrows():
            cv = cov.loc[c["code"]] if c["code"] in cov.index else None
            au = aud.loc[c["code"]] if c["code"] in aud.index else None
            rows.append(
                {
                    "name": str(c["name"]),
                    "code": c["code"],
                    "households": num(c["households"]),
                    "band": _band_status(c["households"], c["band_min"], c["band_max"]),
                    "station_rate": DASH if cv is None else pct(cv.get("community_service_station_rate")),
                    "office": DASH if au is None else yes_no(au.get("has_fixed_office")),
                    "gap_m2": DASH if au is None else num(au.get("service_floor_gap_m2")),
                    "unplaced": DASH if au is None else num(au.get("emergency_unplaced")),
                }
            )
        if rows:
            out.append({"name": name, "code": code, "count": num(len(rows)), "communities": rows})
    return out


def build_context(inputs: ReportInputs, year: int, today: _dt.date | None = None) -> dict:
    """Every field of the template except the chapter maps (added by the renderer as images)."""
    today = today or _dt.date.today()
    ds = inputs.meta.get("dataset") or {}
    synthetic = (
        f"本报告所用数据为合成示例数据（{ds.get('name_zh') or ds.get('name') or '示例城市'}），并非真实城市数据。"
        if inputs.meta.get("synthetic") or ds.get("synthetic")
        else ""
    )
    s = inputs.coverage["summary"]
    tot = inputs.evaluation.totals
    norms = inputs.norms
    return {
        "year": str(year),
        "city_name": inputs.county["name"],
        "county_code": inputs.county["code"],
        "plan_name": str(inputs.plan["name"]),
        "report_date": f"{today.year}年{today.month}月{today.day}日",
        "synthetic_note": synthetic,
        "totals": {
            "residents": num(s["residents"]),
            "households": num(s["households"]),
            "units": num(s["units"]),
            "streets": num(len(inputs.streets)),
            "communities": num(tot["communities"]),
            "coverage_run": str(inputs.coverage["id"]),
            "audit_run": str(inputs.audit["id"]),
            "plan_version": str(inputs.plan_version),
        },
        "art3": art3(inputs),
        "art12": art12(inputs),
        "art15": art15(inputs),
        "art18": art18(inputs),
        "street_sections": street_sections(inputs),
        "norms": norm_rows(norms),
        "norms_override": (
            f"本报告采用的规范已按「{norms.override_label}」覆盖 {len(norms.overridden)} 项。"
            if norms.override_label
            else "本报告采用系统内置规范，未使用本地覆盖文件。"
        ),
    }
