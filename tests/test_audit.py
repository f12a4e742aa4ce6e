"""The facilities and shelters audit (Art. 18) on a hand-built world whose answers are computed on paper.

World (EPSG:4544 metres near Deyang), one straight street along y = 0 from x = -100 to 1100:

    unit B (x=0, 100 residents)   unit A (x=200, 100)   S1 (x=300, 150 m2 -> 100 persons)   S2 (x=600, declares 100)

Walks: A-S1 100 m, A-S2 400 m, B-S1 300 m, B-S2 600 m (beyond the 500 m limit).
Nearest-first (pairs by walk): A fills S1, B finds S1 full and S2 too far -> 100 stranded, 100 placed.
Exact: A -> S2, B -> S1 -> all 200 placed, 100 x 400 + 100 x 300 = 70,000 person-metres.
Everyone to their nearest shelter: S1 sees 200 persons for 100 places -> over capacity.

Communities (boxes stacked north of the street):
  c1 households 1000 -> needs 300 m2; a service station of exactly 300 m2 -> at the norm (gap 0).
  c2 households 2000 -> needs 600 m2; a station of 200 m2 -> gap 400 m2; \
reserved 0702 parcel of 500 m2 inside -> closes it.
  c3 no households -> cannot be assessed; its office stands on land planned as 0901 (commercial) -> at risk.
  c4 households 500 -> needs 150 m2; its only service facility has no floor area -> cannot be assessed.
Developments: d1 200 households, no declared requirement -> owes 200 x 0.30 = 60 m2, built 20 -> owes 40 m2;
  d2 without built area -> cannot be assessed; d3 declared 100, built 150 -> nothing owed.
Shelter S3 has neither area nor capacity -> cannot be assessed.
With the plan: S4 (planned, x=-50, 30 places) and a planned park p4 (1401, 60 x 20 m south of the street at
x=50: 1,200 m2 x 0.5 / 1.5 m2 = 400 places) that is no shelter yet.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from facilities.audit import CANNOT, GAP, OK, AuditParams, compute_audit
from geo_service.core._errors import InputError
from geo_service.core.network import WalkNetwork
from geo_service.core.norms import load_norms

METRIC = 4544
X0, Y0 = 450_000.0, 3_445_000.0


def _pt(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def _box(x1, y1, x2, y2):
    return shapely.box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2)


def _mp(*args):
    return shapely.MultiPolygon([_box(*args)])


def audit_frames() -> dict[str, gpd.GeoDataFrame]:
    xs = np.arange(-100, 1101, 100)
    nodes = gpd.GeoDataFrame({"node_idx": np.arange(len(xs))}, geometry=[_pt(x, 0) for x in xs], crs=METRIC)
    lines = [shapely.LineString([(X0 + a, Y0), (X0 + b, Y0)]) for a, b in itertools.pairwise(xs)]
    edges = gpd.GeoDataFrame(
        {
            "u": np.arange(len(xs) - 1),
            "v": np.arange(1, len(xs)),
            "length_m": [ln.length for ln in lines],
            "road_class": "local",
        },
        geometry=lines,
        crs=METRIC,
    )
    units = gpd.GeoDataFrame(
        {
            "source_id": ["A", "B"],
            "name": ["甲小区", "乙小区"],
            "residents": [100, 100],
            "households": [40, 40],
            "street_code": ["510603001", "510603001"],
        },
        geometry=[_mp(199, -1, 201, 1), _mp(-1, -1, 1, 1)],
        crs=METRIC,
    )
    communities = gpd.GeoDataFrame(
        {
            "source_id": ["c1", "c2", "c3", "c4"],
            "code": ["c1", "c2", "c3", "c4"],
            "name": ["一社区", "二社区", "三社区", "四社区"],
            "street_code": "510603001",
            "households": [1000, 2000, None, 500],
            "has_fixed_office": [True, True, None, False],
        },
        geometry=[
            _mp(-100, -200, 1100, 200),
            _mp(-100, 200, 1100, 600),
            _mp(-100, 600, 1100, 1000),
            _mp(-100, 1000, 1100, 1400),
        ],
        crs=METRIC,
    )
    facilities = gpd.GeoDataFrame(
        {
            "source_id": ["f1", "f2", "f3", "f4"],
            "name": ["一社区服务站", "二社区服务站", "三社区居委会", "四社区居委会"],
            "category": [
                "community_service_station",
                "community_service_station",
                "community_office",
                "community_office",
            ],
            "floor_area_m2": [300.0, 200.0, 100.0, None],
            "status": "existing",
        },
        geometry=[_pt(500, 100), _pt(500, 300), _pt(500, 800), _pt(500, 1200)],
        crs=METRIC,
    )
    shelters = gpd.GeoDataFrame(
        {
            "source_id": ["S1", "S2", "S3", "S4"],
            "name": ["一号广场", "二号广场", "三号空地", "四号绿地（规划）"],
            "shelter_class": "emergency",
            "effective_area_m2": [150.0, None, None, None],
            "capacity_persons": [None, 100, None, 30],
            "status": ["existing", "existing", "existing", "planned"],
        },
        geometry=[_pt(300, 0), _pt(600, 0), _pt(1000, 0), _pt(-50, 0)],
        crs=METRIC,
    )
    parcels = gpd.GeoDataFrame(
        {
            "source_id": ["p1", "p2", "p3", "p4"],
            "land_use_code": ["0702", "0901", "0701", "1401"],
            "status": ["reserved", "planned", "existing", "planned"],
            "area_m2": [500.0, 10000.0, None, None],
        },
        geometry=[_mp(100, 400, 125, 420), _mp(450, 750, 550, 850), _mp(-100, 1000, 1100, 1400), _mp(20, -30, 80, -10)],
        crs=METRIC,
    )
    developments = gpd.GeoDataFrame(
        {
            "source_id": ["d1", "d2", "d3"],
            "name": ["新苑", "新城", "新府"],
            "planned_households": [200, 300, 400],
            "required_facility_area_m2": [None, None, 100.0],
            "built_facility_area_m2": [20.0, None, 150.0],
            "status": ["completed", "under_construction", "completed"],
        },
        geometry=[_mp(0, 50, 50, 100), _mp(0, 250, 50, 300), _mp(0, 650, 50, 700)],
        crs=METRIC,
    )
    out = {
        "nodes": nodes,
        "edges": edges,
        "units": units,
        "communities": communities,
        "facilities": facilities,
        "shelters": shelters,
        "parcels": parcels,
        "developments": developments,
    }
    return {k: v.to_crs(4326) for k, v in out.items()}


def _with_ids(frame):
    return frame.assign(id=np.arange(1, len(frame) + 1))


@pytest.fixture(scope="module")
def world():
    f = audit_frames()
    net = WalkNetwork.from_frames(f["nodes"], f["edges"], metric_crs=METRIC)
    return f, net


@pytest.fixture(scope="module")
def audit(world):
    f, net = world
    return compute_audit(
        f["communities"],
        _with_ids(f["units"]),
        _with_ids(f["facilities"]),
        _with_ids(f["shelters"]),
        _with_ids(f["parcels"]),
        _with_ids(f["developments"]),
        load_norms(),
        net=net,
    )


def _row(frame, col, value):
    rows = frame[frame[col] == value]
    assert len(rows) == 1, (col, value, len(rows))
    return rows.iloc[0]


def test_community_exactly_at_the_norm(audit):
    c1 = _row(audit.communities, "community_code", "c1")
    assert c1["service_floor_required_m2"] == pytest.approx(300.0)  # 1000 households x 30 m2 / 100
    assert c1["service_floor_m2"] == pytest.approx(300.0)
    assert c1["service_floor_gap_m2"] == 0
    assert c1["service_floor_status"] == OK
    assert bool(c1["has_fixed_office"]) is True
    # the 300 m2 station is below the 800 m2 per-facility minimum of 完整居住社区建设标准
    assert c1["facilities_below_minimum"] == 1
    assert "社区办公用房（居委会）" in c1["missing_categories_zh"]


def test_nearest_first_strands_residents_the_exact_assignment_places(audit):
    e = audit.totals["emergency"]
    assert e["demand_persons"] == 200
    assert e["placed_nearest_first"] == 100 and e["unplaced_nearest_first"] == 100
    assert e["placed"] == 200 and e["unplaced"] == 0
    assert e["mean_walk_m"] == pytest.approx(350.0, abs=3)  # (100 x 400 + 100 x 300) / 200
    units = audit.units.set_index("name")
    assert units.loc["乙小区", "emergency_unplaced_nearest_first"] == 100
    assert units.loc["乙小区", "emergency_unplaced"] == 0
    lines = audit.assignment.merge(audit.shelters[["shelter_id", "name"]], on="shelter_id")
    pairs = {(int(u), n): int(p) for u, n, p in zip(lines["unit_id"], lines["name"], lines["persons"])}
    assert pairs == {(1, "二号广场"): 100, (2, "一号广场"): 100}  # A -> S2, B -> S1
    assert lines.geometry.geom_type.eq("LineString").all()
    s1 = _row(audit.shelters, "name", "一号广场")
    assert s1["capacity_persons"] == 100 and s1["capacity_source"] == "area"  # 150 m2 / 1.5 m2 per person
    assert s1["emergency_nearest_first_load"] == 200 and bool(s1["emergency_over_capacity_nearest_first"])
    assert e["shelters_over_capacity_nearest_first"] == 1
    assert _row(audit.shelters, "name", "二号广场")["capacity_source"] == "declared"


def test_gap_closed_by_a_reserved_parcel(audit):
    c2 = _row(audit.communities, "community_code", "c2")
    assert c2["service_floor_status"] == GAP
    assert c2["service_floor_gap_m2"] == pytest.approx(400.0)
    assert c2["plan_can_close"] == "yes" and c2["plan_can_close_zh"] == "可补足"
    assert c2["closing_parcel_ids"] == "1"
    p1 = _row(audit.parcels, "parcel_id", 1)
    assert p1["assigned_to_community"] == "c2" and p1["gap_closed_m2"] == pytest.approx(400.0)
    assert audit.totals["communities_gap_closable_by_plan"] == 1


def test_facility_on_land_planned_for_another_use_is_at_risk(audit):
    f3 = _row(audit.facilities, "name", "三社区居委会")
    assert bool(f3["at_risk"]) and f3["parcel_land_use_code"] == "0901"
    assert audit.totals["facilities_at_risk"] == 1
    # the station on plain residential land (c1 sits on no parcel; c4's office on 0701) is not at risk
    assert not audit.facilities["at_risk"].drop(index=f3.name).any()


def test_development_that_owes_area(audit):
    d1 = _row(audit.developments, "name", "新苑")
    assert d1["required_facility_area_m2"] == pytest.approx(60.0) and d1["required_source"] == "按每百户 30 m² 计算"
    assert d1["owed_m2"] == pytest.approx(40.0) and d1["status_check"] == GAP
    d3 = _row(audit.developments, "name", "新府")
    assert d3["owed_m2"] == 0 and d3["status_check"] == OK
    assert audit.totals["developments_owing"] == 1 and audit.totals["developments_owed_m2"] == pytest.approx(40.0)


def test_each_cannot_be_assessed_case_names_its_reason(audit):
    ca = audit.cannot_assess.set_index(["layer", "name"])
    assert ca.loc[("communities", "三社区"), "reason_zh"] == "缺少户数，无法计算应配面积"
    assert ca.loc[("communities", "四社区"), "reason_zh"] == "1 处综合服务设施缺少建筑面积"
    assert "缺少建筑面积" in ca.loc[("facilities", "四社区居委会"), "reason_zh"]
    assert ca.loc[("shelters", "三号空地"), "reason_zh"] == "缺少有效避难面积和容纳人数"
    assert ca.loc[("developments", "新城"), "reason_zh"] == "缺少已配建设施面积"
    assert len(ca) == 5
    c3 = _row(audit.communities, "community_code", "c3")
    assert c3["service_floor_status"] == CANNOT and np.isnan(c3["service_floor_gap_m2"])  # not zero
    c4 = _row(audit.communities, "community_code", "c4")
    assert c4["service_floor_status"] == CANNOT and np.isnan(c4["service_floor_gap_m2"])
    assert audit.totals["cannot_assess"] == {"communities": 2, "facilities": 1, "shelters": 1, "developments": 1}
    # the shelter that cannot be assessed takes no one; the others still run
    assert _row(audit.shelters, "name", "三号空地")["emergency_assigned"] == 0
    d2 = _row(audit.developments, "name", "新城")
    assert np.isnan(d2["owed_m2"])


def test_known_area_above_the_norm_is_ok_despite_a_facility_without_area(world):
    f, net = world
    fac = f["facilities"].copy()
    fac.loc[3, "category"] = "community_service_station"
    extra = fac.iloc[[3]].assign(floor_area_m2=200.0, source_id="f5")  # c4 needs 150: 200 known is enough
    fac = gpd.GeoDataFrame(gpd.pd.concat([fac, extra], ignore_index=True), crs=4326)
    res = compute_audit(
        f["communities"],
        _with_ids(f["units"]),
        _with_ids(fac),
        _with_ids(f["shelters"]),
        _with_ids(f["parcels"]),
        _with_ids(f["developments"]),
        load_norms(),
        net=net,
    )
    c4 = _row(res.communities, "community_code", "c4")
    assert c4["service_floor_status"] == OK and c4["service_floor_gap_m2"] == 0


def test_worst_communities_first_and_summary_names_its_norms(audit):
    cm = audit.communities
    assert list(cm["rank"]) == [1, 2, 3, 4]
    assert cm["issues"].is_monotonic_decreasing
    s = audit.summary()
    checks = {n["check"]: n for n in s["norms"]}
    assert checks["community.service_floor_m2_per_100_households"]["value"] == 30
    assert checks["shelter.emergency_walk_limit_m"]["source"].startswith("Guangdong")
    assert checks["shelter.per_capita_emergency_m2"]["status"] == "verified"
    share = s["shelter_share"][-1]
    assert share["area_code"] == "全域" and share["meets_norm"] is False  # no fixed shelter at all
    assert s["streets"][0]["street_code"] == "510603001"


def test_walk_limit_and_day_night_factor(world):
    f, net = world
    args = (
        f["communities"],
        _with_ids(f["units"]),
        _with_ids(f["facilities"]),
        _with_ids(f["shelters"]),
        _with_ids(f["parcels"]),
        _with_ids(f["developments"]),
        load_norms(),
    )
    short = compute_audit(*args, net=net, params=AuditParams(walk_limits_m={"emergency": 350}))
    # A reaches only S1 (100 m), B only S1 (300 m): one of them stranded
    assert short.totals["emergency"]["placed"] == 100 and short.totals["emergency"]["unplaced"] == 100
    day = compute_audit(*args, net=net, params=AuditParams(day_night_factor=1.5))
    assert day.totals["emergency"]["demand_persons"] == 300 and day.totals["emergency"]["placed"] == 200
    with pytest.raises(InputError):
        compute_audit(*args, net=net, params=AuditParams(day_night_factor=0))
    with pytest.raises(InputError):
        compute_audit(*args, net=net, params=AuditParams(walk_limits_m={"tent": 100}))


def test_without_communities_is_refused(world):
    f, net = world
    with pytest.raises(InputError) as e:
        compute_audit(
            f["communities"].iloc[:0],
            f["units"],
            f["facilities"],
            f["shelters"],
            f["parcels"],
            f["developments"],
            load_norms(),
            net=net,
        )
    assert "社区" in e.value.message_zh


def test_without_network_the_rest_still_runs(world):
    f, _ = world
    res = compute_audit(
        f["communities"],
        _with_ids(f["units"]),
        _with_ids(f["facilities"]),
        _with_ids(f["shelters"]),
        _with_ids(f["parcels"]),
        _with_ids(f["developments"]),
        load_norms(),
        net=None,
    )
    assert "emergency" not in res.totals
    assert any("步行网络" in w for w in res.warnings)
    assert _row(res.communities, "community_code", "c2")["service_floor_gap_m2"] == pytest.approx(400.0)


def test_xlsx_sheets_headers_and_a_known_row(audit, tmp_path):
    from facilities.audit_report import write_audit

    tables = {
        n: getattr(audit, n)
        for n in (
            "communities",
            "category_counts",
            "facilities",
            "shelters",
            "units",
            "assignment",
            "shelter_share",
            "central",
            "shelter_sites",
            "parcels",
            "developments",
            "streets",
            "cannot_assess",
        )
    }
    path = write_audit(tmp_path / "audit.xlsx", "xlsx", summary=audit.summary(), tables=tables)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:3] == ["汇总", "街道汇总", "社区办公与服务用房"]
    for name in (
        "社区避难安置",
        "社区应配设施",
        "避难场所",
        "固定避难场所比例",
        "人口单元安置",
        "规划预留用地",
        "设施问题",
        "新建住宅配建",
        "无法评估",
        "采用标准",
    ):
        assert name in wb.sheetnames
    ws = wb["社区办公与服务用房"]
    assert ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    assert header[:3] == ["排名", "社区代码", "名称"]
    assert "综合服务设施面积缺口（m²）" in header and "规划用地能否补足" in header
    rows = {r[1]: dict(zip(header, r)) for r in ws.iter_rows(min_row=2, values_only=True)}
    c2 = rows["c2"]
    assert c2["综合服务设施应配面积（m²）"] == 600 and c2["综合服务设施面积缺口（m²）"] == 400
    assert c2["规划用地能否补足"] == "可补足" and c2["有固定办公场所"] == "是"
    assert ws.column_dimensions["F"].width > 10  # fitted to the Chinese findings
    summary = {r[0]: r[1] for r in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["最优分配无法安置（人）"] == 0 and summary["就近分配无法安置（人）"] == 100
    assert summary["按规划补充后仍无法安置（人）"] == 0 and summary["规划及在建避难场所（处）"] == 1
    sites = wb["避难场所规划用地"]
    assert [c.value for c in sites[1]][:2] == ["地块编号", "用地用海分类代码"] and sites.cell(2, 2).value == "1401"
    devs = wb["新建住宅配建"]
    dh = [c.value for c in devs[1]]
    first = dict(zip(dh, next(devs.iter_rows(min_row=2, values_only=True))))
    assert first["名称"] == "新苑" and first["欠配面积（m²）"] == 40  # the one owing most comes first
    norms = [c.value for c in wb["采用标准"][1]]
    assert norms == ["评估项目", "规范项", "取值", "单位", "来源", "核实状态"]


def test_a_point_on_a_shared_boundary_belongs_to_one_community():
    from facilities.audit import _containing

    polys = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], dtype=object)
    pts = np.array([shapely.Point(1, 0.5), shapely.Point(1.5, 0.5), shapely.Point(5, 5)], dtype=object)
    assert list(_containing(pts, polys)) == [0, 1, -1]


def test_office_flag_as_numpy_bool_or_missing(world):
    f, net = world
    cm = f["communities"].copy()
    cm["has_fixed_office"] = pd.array([True, False, None, None], dtype="boolean")
    res = compute_audit(
        cm,
        _with_ids(f["units"]),
        _with_ids(f["facilities"]),
        _with_ids(f["shelters"]),
        _with_ids(f["parcels"]),
        _with_ids(f["developments"]),
        load_norms(),
        net=net,
    )
    office = res.communities.set_index("community_code")["has_fixed_office"]
    # c3 and c4 have no record but an office facility inside; c2 records none and has none
    assert office.to_dict() == {"c1": True, "c2": False, "c3": True, "c4": True}


def test_central_and_fixed_shelter_checks(world):
    f, net = world
    sh = f["shelters"].copy()
    sh.loc[2, ["shelter_class", "effective_area_m2"]] = ["central", 100.0]  # S3: 100 m2 / 2 m2 = 50 persons
    res = compute_audit(
        f["communities"],
        _with_ids(f["units"]),
        _with_ids(f["facilities"]),
        _with_ids(sh),
        _with_ids(f["parcels"]),
        _with_ids(f["developments"]),
        load_norms(),
        net=net,
    )
    central = res.central.iloc[0]
    assert (
        central["served_residents"] == 200
        and bool(central["within_population_limit"])
        and bool(central["within_area_limit"])
    )
    assert res.totals["central_shelters"] == 1 and res.totals["central_shelters_needed"] == 1
    share = res.shelter_share.set_index("area_code")
    # 50 places of the central shelter count towards the fixed share: 50 / 200 = 25 % >= 15 %
    assert share.loc["510603001", "fixed_capacity_persons"] == 50 and share.loc["510603001", "share"] == 0.25
    assert bool(share.loc["全域", "meets_norm"]) and share.loc["全域", "required_persons"] == 30
    assert res.cannot_assess["layer"].tolist().count("shelters") == 0


def test_with_the_plan_planned_shelters_first_then_parks_of_the_plan(world):
    f, net = world
    res = compute_audit(
        f["communities"],
        _with_ids(f["units"]),
        _with_ids(f["facilities"]),
        _with_ids(f["shelters"]),
        _with_ids(f["parcels"]),
        _with_ids(f["developments"]),
        load_norms(),
        net=net,
        params=AuditParams(walk_limits_m={"emergency": 350}),
    )
    e = res.totals["emergency"]
    assert e["unplaced"] == 100  # existing shelters only: S1 holds one of A and B
    wp = e["with_plan"]
    # S1 holds 100 of them; of the other 100, the planned S4 takes 30 and the park the remaining 70
    assert wp["planned_shelters"] == 1 and wp["placed_by_planned_shelters"] == 30
    assert wp["candidate_sites"] == 1 and wp["candidate_capacity_persons"] == 400
    assert wp["sites_used"] == 1 and wp["placed_by_sites"] == 70
    assert wp["placed"] == 200 and wp["unplaced"] == 0
    site = res.shelter_sites.iloc[0]
    assert (
        site["land_use_code"] == "1401"
        and site["emergency_assigned_with_plan"] == 70
        and site["community_code"] == "c1"
    )
    assert _row(res.shelters, "name", "四号绿地（规划）")["emergency_assigned_with_plan"] == 30
    assert _row(res.communities, "community_code", "c1")["emergency_unplaced_with_plan"] == 0
    # at 500 m the existing shelters place everyone: the plan adds nothing
    full = compute_audit(
        f["communities"],
        _with_ids(f["units"]),
        _with_ids(f["facilities"]),
        _with_ids(f["shelters"]),
        _with_ids(f["parcels"]),
        _with_ids(f["developments"]),
        load_norms(),
        net=net,
    )
    assert full.totals["emergency"]["with_plan"]["placed_by_sites"] == 0
    assert full.totals["emergency"]["with_plan"]["placed_by_planned_shelters"] == 0


def test_presence_checks_weighed_by_the_served_group(audit, world, tmp_path):
    """No nursery, kindergarten or day-care centre anywhere: each community's shortfall is its group's residents."""
    from facilities.audit_report import write_audit
    from facilities.groups import unit_groups

    f, _net = world
    shares = load_norms().entry("age_groups.census_shares").value
    cm = audit.communities.set_index("community_code")
    for c, g in (("nursery", "0_3"), ("kindergarten", "3_6"), ("elderly_day_care", "60plus")):
        both = 200 * shares[g]  # units A and B (100 residents each, no age data) lie in c1
        assert cm.loc["c1", f"{c}_group_residents"] == pytest.approx(both, abs=0.05)
        assert cm.loc["c1", f"{c}_group_shortfall"] == pytest.approx(both, abs=0.05)
        assert cm.loc["c2", f"{c}_group_shortfall"] == 0  # no residents
    st = audit.streets.set_index("street_code")
    assert st.loc["510603001", "nursery_group_shortfall"] == pytest.approx(200 * shares["0_3"], abs=0.05)
    checks = {c["category"]: c for c in audit.summary()["group_checks"]}
    assert checks["elderly_day_care"]["group_zh"] == "60岁及以上老年人"
    assert checks["elderly_day_care"]["communities_missing"] == 4
    assert "age_groups.served_by" in {n["check"] for n in audit.summary()["norms"]}
    assert "托儿所（0–3岁婴幼儿" in cm.loc["c1", "group_shortfall_zh"]

    # units without age data and without census shares: unknown, never zero
    units = _with_ids(f["units"])
    bare = compute_audit(
        f["communities"],
        units,
        _with_ids(f["facilities"]),
        _with_ids(f["shelters"]),
        _with_ids(f["parcels"]),
        _with_ids(f["developments"]),
        load_norms(),
        groups=unit_groups(units, load_norms(), derive=False),
    )
    c1 = bare.communities.set_index("community_code").loc["c1"]
    assert np.isnan(c1["nursery_group_shortfall"]) and "2 个单元缺少0–3岁婴幼儿人数" in c1["group_note_zh"]
    assert {c["category"]: c for c in bare.totals["group_checks"]}["nursery"]["shortfall_residents"] is None

    path = write_audit(tmp_path / "a.xlsx", "xlsx", summary=audit.summary(), tables={"communities": audit.communities})
    ws = openpyxl.load_workbook(path)["社区服务对象"]
    headers = [c.value for c in ws[1]]
    assert "托儿所服务对象缺口（缺少该设施的服务对象，人）" in headers and "缺少应配设施的服务对象（人）" in headers
    assert "托儿所服务对象人口（人）" in headers
