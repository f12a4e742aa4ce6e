"""The facilities and shelters audit map (maps/audit.py) on the sample city: layers, legend, local assets only,
popup and summary figures equal to the stored audit run, served at /maps/audit and exported by the CLI."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from facilities.audit_service import current_audit, run_tables
from geo_service.app import create_app
from geo_service.core.settings import Settings
from maps import assets
from maps.registry import render_map
from tests.conftest import sample_city_store

MAX_PAGE_BYTES = 2_500_000  # the sample city page is about 1.4 MB


@pytest.fixture(scope="module")
def city(spatialite_template, tmp_path_factory):
    """The sample city on SpatiaLite with its current audit run (computed once for the module)."""
    store = sample_city_store(spatialite_template, tmp_path_factory.mktemp("audit_map"))
    run = current_audit(store)
    yield store, run
    store.dispose()


@pytest.fixture(scope="module")
def tables(city):
    store, run = city
    return run_tables(store, run["id"])


@pytest.fixture(scope="module")
def page(city):
    store, _run = city
    with TestClient(create_app(store)) as c:
        r = c.get("/maps/audit")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    return r.text


# ----------------------------------------------------------------------------- reading the page
def js_string(text: str) -> str:
    return json.loads(f'"{text}"')


def data_layers(page: str) -> dict[str, dict]:
    """Every DataLayer of the page by its name in the layer control: data (GeoJSON or None), fields, shown."""
    dec = json.JSONDecoder()
    block = page[page.index("overlays :") :]
    block = block[: block.index("}")]
    names = {var: js_string(name) for name, var in re.findall(r'"((?:[^"\\]|\\.)*)" : (data_layer_\w+)', block)}
    shown = set(re.findall(r"(data_layer_\w+)\.addTo\(map_\w+\)", page))
    out = {}
    for m in re.finditer(r"var (data_layer_\w+) = geoMaps\.dataLayer\(map_\w+, \{", page):
        pos = m.end()

        def value(key, pos=pos):
            i = page.index(f"{key}: ", pos) + len(key) + 2
            return dec.raw_decode(page, i)[0]

        label = re.sub(r"<[^>]+>", "", names[m.group(1)]).strip()
        out[label] = {
            "data": value("data"),
            "fields": value("fields"),
            "layer": value("layerName"),
            "tiles": value("tiles"),
            "shown": m.group(1) in shown,
        }
    return out


def layer(layers: dict, prefix: str) -> dict:
    hits = [v for k, v in layers.items() if k.startswith(prefix)]
    assert len(hits) == 1, (prefix, list(layers))
    return hits[0]


def props(lyr: dict) -> list[dict]:
    return [f["properties"] for f in lyr["data"]["features"]]


def control_html(page: str, css_class: str) -> str:
    m = re.search(r'geoMaps\.control\(map_\w+, ("(?:[^"\\]|\\.)*"), "\w+", ' + json.dumps(css_class) + r"\)", page)
    assert m, css_class
    return json.loads(m.group(1))


def summary_rows(page: str) -> dict[str, str]:
    box = control_html(page, "geo-audit-summary")
    return {k: re.sub(r"<[^>]+>", "", v) for k, v in re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", box)}


# ----------------------------------------------------------------------------- tests
def test_layers_legend_and_local_assets(page, tables, city):
    store, run = city
    layers = data_layers(page)
    comm, shel, fac = tables["communities"], tables["shelters"], tables["facilities"]
    over = int(shel["emergency_over_capacity_nearest_first"].sum())
    unplaced_units = int((tables["units"]["emergency_unplaced"] > 0).sum())
    assigned = int(tables["parcels"]["assigned_to_community"].notna().sum())
    owing = int((tables["developments"]["status_check"] == "gap").sum())
    expect = {
        f"社区审计结果（按问题数着色，{len(comm)} 个）": len(comm),
        f"紧急避难场所（{int((shel['shelter_class'] == 'emergency').sum())}）": int(
            (shel["shelter_class"] == "emergency").sum()
        ),
        f"固定避难场所（{int((shel['shelter_class'] == 'fixed').sum())}）": int(
            (shel["shelter_class"] == "fixed").sum()
        ),
        f"就近避难时超出容量的避难场所（{over} 处）": over,
        f"有无法安置居民的居住单元（紧急避难，{unplaced_units:,} 个）": unplaced_units,
        f"避难安置（居住单元→避难场所，线宽表示人数，{len(tables['assignment']):,} 条）": len(tables["assignment"]),
        f"用地规划为他用的设施（{int(fac['at_risk'].sum())}）": int(fac["at_risk"].sum()),
        f"低于最小建筑面积的设施（{int(fac['below_minimum'].sum())}）": int(fac["below_minimum"].sum()),
        f"规划或在建、尚未建成的设施（{int(fac['planned_not_built'].sum())}）": int(fac["planned_not_built"].sum()),
        f"用于补足面积缺口的预留地块（{assigned} 块）": assigned,
        f"其他预留社区服务设施用地（{len(tables['parcels']) - assigned} 块）": len(tables["parcels"]) - assigned,
        f"新建住宅项目（配建不足 {owing} 个，共 {len(tables['developments'])} 个）": len(tables["developments"]),
    }
    for name, n in expect.items():
        assert name in layers, (name, list(layers))
        assert len(layers[name]["data"]["features"]) == n, name
        assert layers[name]["tiles"] is None  # the sample city is small enough to draw inline
    assert over > 0 and unplaced_units > 0 and assigned > 0 and owing > 0  # the sample city exercises every layer
    # the assignment (1,515 lines) is on, planned facilities (not a defect of what exists) are off by default
    assert layer(layers, "避难安置")["shown"] and not layer(layers, "规划或在建")["shown"]
    assert layer(layers, "社区审计结果")["shown"] and layer(layers, "就近避难时超出容量")["shown"]

    legend = control_html(page, "geo-legend")
    for text in (
        "社区：无问题",
        "社区：5 项及以上问题",
        "社区：综合服务面积无法评估（缺少数据）",
        "就近避难时超出容量的避难场所（黑圈）",
        "居住单元：步行范围内没有避难场所",
        "居住单元：步行范围内避难场所容量已满",
        "用于补足面积缺口的预留地块",
        "新建住宅项目：配建设施面积不足",
        "避难安置：居住单元→避难场所（线宽表示人数）",
        "用地规划为他用的设施",
    ):
        assert text in legend, text
    assert "repeating-linear-gradient" in legend  # the hatching of "cannot be assessed"
    assert "geoAudit.hatch" in page and "createPattern" in page
    assert "设施与避难场所审计" in control_html(page, "geo-title") and f"审计运行 {run['id']}" in control_html(
        page, "geo-title"
    )
    assert "合成示例数据" in control_html(page, "geo-title")

    # local assets only: scripts and styles from /static, no URL leaving the service (no basemap configured)
    refs = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert refs and all(u.startswith(("/static/", "data:")) for u in refs), refs
    with TestClient(create_app(store)) as c:
        for u in refs:
            if u.startswith("/static/"):
                assert c.get(u).status_code == 200, u
    assert assets.external_references(page) == []
    assert re.findall(r"https?://", page) == []
    assert len(page.encode()) < MAX_PAGE_BYTES


def test_popups_show_the_stored_figures(page, tables):
    layers = data_layers(page)
    comm = tables["communities"].set_index("community_code")
    lyr = layer(layers, "社区审计结果")
    fields = {f[0]: f for f in lyr["fields"]}
    assert fields["service_floor_gap_m2"][1:3] == ["面积缺口", "m²"]
    assert fields["issues_zh"][1] == "发现的问题" and fields["has_fixed_office"][1] == "有固定办公场所"
    assert fields["emergency_unplaced"][1:3] == ["无法安置的居民", "人"]
    assert fields["plan_can_close_zh"][1] == "规划能否补足缺口" and fields["closing_parcel_zh"][1].startswith(
        "补足缺口的预留地块"
    )
    assert fields["emergency_placed_share"][2] == "%"
    for p in props(lyr):
        row = comm.loc[p["community_code"]]
        for col in (
            "issues",
            "issues_zh",
            "has_fixed_office",
            "emergency_unplaced",
            "emergency_placed",
            "service_floor_status_zh",
            "plan_can_close_zh",
            "missing_categories_zh",
            "name",
        ):
            want = row[col]
            assert p[col] == (None if want is None or (isinstance(want, float) and np.isnan(want)) else want), (
                col,
                p["name"],
            )
        gap = row["service_floor_gap_m2"]
        assert p["service_floor_gap_m2"] == (None if np.isnan(gap) else pytest.approx(gap))
        parcels = row["closing_parcel_ids"]
        assert p["closing_parcel_zh"] == (None if parcels is None else str(parcels).replace(",", "、"))
        assert p["cannot"] is False
        assert p["street_zh"].endswith(f"（{row['street_code']}）") and "街道" in p["street_zh"]
    closing = [p for p in props(lyr) if p["closing_parcel_zh"]]
    assert closing and all(p["plan_can_close_zh"] in ("可补足", "部分补足") for p in closing)
    # the parcel that closes a gap names its community; the community names the parcel
    parcels = {p["parcel_id"]: p for p in props(layer(layers, "用于补足面积缺口的预留地块"))}
    for p in closing:
        for pid in p["closing_parcel_zh"].split("、"):
            assert parcels[int(pid)]["assigned_zh"] == f"{p['name']}（{p['community_code']}）"

    shel = tables["shelters"].set_index("shelter_id")
    over = props(layer(layers, "就近避难时超出容量"))
    assert {p["shelter_id"] for p in over} == set(shel.index[shel["emergency_over_capacity_nearest_first"]])
    for p in over:
        assert p["emergency_nearest_first_load"] > p["capacity_persons"]
        assert p["emergency_nearest_first_load"] == shel.loc[p["shelter_id"], "emergency_nearest_first_load"]
        assert p["emergency_assigned"] == shel.loc[p["shelter_id"], "emergency_assigned"] <= p["capacity_persons"]
    sf = {f[0]: f for f in layer(layers, "紧急避难场所")["fields"]}
    assert sf["capacity_persons"][1:3] == ["容纳人数", "人"] and sf["emergency_nearest_first_load"][1:3] == [
        "就近避难人数",
        "人",
    ]
    assert sf["emergency_assigned"][1:3] == ["分配安置人数", "人"]
    central = props(layer(layers, "中心避难场所"))
    assert central and all(p["emergency_assigned"] is None for p in central)  # takes no one in the emergency assignment

    lines = props(layer(layers, "避难安置"))
    assert sum(p["persons"] for p in lines) == int(tables["assignment"]["persons"].sum())
    assert all(p["unit_zh"] and p["shelter_zh"] for p in lines)
    units = props(layer(layers, "有无法安置居民的居住单元"))
    assert sum(p["emergency_unplaced"] for p in units) == int(tables["units"]["emergency_unplaced"].sum())
    assert {p["emergency_unplaced_reason"] for p in units} <= {
        "步行范围内避难场所容量已满",
        "500 米步行范围内没有避难场所",
        "距步行网络过远",
    }
    fac = props(layer(layers, "用地规划为他用的设施"))
    assert fac and all("所在地块规划为他用" in p["finding_zh"] for p in fac)
    dev = props(layer(layers, "新建住宅项目"))
    assert sum(p["owed_m2"] or 0 for p in dev) == pytest.approx(tables["developments"]["owed_m2"].sum())


def test_summary_box_matches_the_run(page, city, tables):
    _store, run = city
    s = run["summary"]
    e = s["emergency"]
    rows = summary_rows(page)
    comm, units = tables["communities"], tables["units"]
    # the summary of the run, and the same totals from its stored features
    assert rows["社区"] == f"{len(comm)} 个" == f"{s['communities']} 个"
    assert (
        rows["无固定办公场所的社区"]
        == f"{int((~comm['has_fixed_office']).sum())} 个"
        == f"{s['communities_without_office']} 个"
    )
    assert rows["综合服务面积不足的社区"] == f"{int((comm['service_floor_status'] == 'gap').sum())} 个"
    assert (
        rows["综合服务面积缺口合计"]
        == f"{s['service_floor_gap_m2']:,.1f} m²"
        == f"{comm['service_floor_gap_m2'].sum():,.1f} m²"
    )
    assert rows["规划可补足缺口的社区"].startswith(f"{s['communities_gap_closable_by_plan']} 个")
    assert rows["用地规划为他用的设施"] == f"{int(tables['facilities']['at_risk'].sum())} 处"
    assert rows["常住人口"] == f"{s['residents']:,} 人"
    assert (
        rows[f"紧急避难：步行 {e['walk_limit_m']:.0f} 米内可安置"]
        == f"{e['placed']:,} 人"
        == f"{int(units['emergency_placed'].sum()):,} 人"
    )
    assert rows["紧急避难：无法安置"] == f"{e['unplaced']:,} 人（就近避难时 {e['unplaced_nearest_first']:,} 人）"
    assert e["unplaced"] == int(units["emergency_unplaced"].sum())
    assert (
        rows["紧急避难：就近避难时超出容量的场所"]
        == f"{int(tables['shelters']['emergency_over_capacity_nearest_first'].sum())} 处"
    )
    assert rows["配建设施面积不足的项目"] == f"{s['developments_owing']} 个，欠配 {s['developments_owed_m2']:,.1f} m²"
    assert rows["社区划分方案"] == s["plan"]["name"]


def test_run_and_plan_selection_and_errors(city, tables):
    store, run = city
    with TestClient(create_app(store)) as c:
        # a stored run of another kind is no audit
        other = store.save_analysis("coverage", params={}, summary={}, outputs={})
        r = c.get("/maps/audit", params={"run": other})
        assert r.status_code == 404 and "不是设施与避难场所审计" in r.json()["message_zh"]
        assert c.get("/maps/audit", params={"run": 999999}).status_code == 404
        assert c.get("/maps/audit", params={"plan": "没有这个方案"}).status_code == 404
        # the plan by name gives the same (cached) run
        plan = run["summary"]["plan"]["name"]
        assert f"审计运行 {run['id']}" in control_html(c.get("/maps/audit", params={"plan": plan}).text, "geo-title")

        # a run without a walking network: no assignment, no unit layer, the run's warning shown; a community that
        # cannot be assessed is hatched and gives its reason
        outs = {k: v.drop(columns=["id"]) for k, v in tables.items() if k not in ("assignment",)}
        outs["communities"] = outs["communities"].drop(
            columns=[c for c in outs["communities"].columns if c.startswith("emergency_")]
        )
        outs["units"] = outs["units"][["feature_key", "unit_id", "name", "community_code", "residents", "geometry"]]
        outs["shelters"] = outs["shelters"].drop(
            columns=[c for c in outs["shelters"].columns if c.startswith("emergency_")]
        )
        cm = outs["communities"]
        cm.loc[0, ["service_floor_status", "service_floor_status_zh", "cannot_assess_reason"]] = [
            "cannot_assess",
            "无法评估",
            "缺少户数，无法计算应配面积",
        ]
        cm.loc[0, "service_floor_gap_m2"] = np.nan
        summary = {k: v for k, v in run["summary"].items() if k != "emergency"}
        summary["warnings"] = ["未提供步行网络，未计算避难安置"]
        rid = store.save_analysis("audit", params=run["params"], summary=summary, outputs=outs, plan_id=run["plan_id"])
        page = c.get("/maps/audit", params={"run": rid}).text
    layers = data_layers(page)
    assert not any(k.startswith(("避难安置", "有无法安置", "就近避难时超出容量")) for k in layers), list(layers)
    hatched = [p for p in props(layer(layers, "社区审计结果")) if p["cannot"]]
    assert [p["community_code"] for p in hatched] == [cm.loc[0, "community_code"]]
    assert (
        hatched[0]["cannot_assess_reason"] == "缺少户数，无法计算应配面积"
        and hatched[0]["service_floor_gap_m2"] is None
    )
    assert "emergency_unplaced" not in {f[0] for f in layer(layers, "社区审计结果")["fields"]}
    box = control_html(page, "geo-audit-summary")
    assert "未提供步行网络，未计算避难安置" in box and "紧急避难" not in box
    assert current_audit(store)["id"] == run["id"]  # the hand-made run is not taken for the current audit


def test_unavailable_without_plan(store):
    with TestClient(create_app(store)) as c:
        r = c.get("/maps/audit")
        assert r.status_code == 409 and "社区划分方案" in r.json()["message_zh"]
        assert "尚无社区划分方案，无法进行设施与避难场所审计" in c.get("/maps").text
        with store.transaction() as conn:
            pid = store.get_or_create_plan(conn, "草案方案")  # a draft: nothing adopted
        r = c.get("/maps/audit")
        assert r.status_code == 409 and "尚无已批准的社区划分方案" in r.json()["message_zh"]
        r = c.get("/maps/audit", params={"plan": pid})  # named, but it has no communities
        assert r.status_code == 422 and "社区" in r.json()["message_zh"]


def test_basemap_is_the_only_remote_url(city):
    store, _run = city
    page = render_map("audit", store, settings=Settings(GEO_BASEMAP="osm"))
    hosts = {re.match(r"https?://([^/]+)", u).group(1) for u in re.findall(r"https?://[^\s\"'<>]+", page)}
    assert hosts == {"tile.openstreetmap.org"}
    assert assets.external_references(page) == []


def test_export_cli_single_file(city, tmp_path, monkeypatch):
    from geo_service.cli import app

    store, run = city
    monkeypatch.setenv("DATABASE_URL", store.url.render_as_string(hide_password=False))
    out = tmp_path / "audit.html"
    res = CliRunner().invoke(app, ["map", "audit", "--out", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert [
        u for u in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page) if not u.startswith("data:")
    ] == []
    assert "L.map(" in page and "geoMaps.dataLayer" in page and "url(data:image/png;base64," in page
    assert f"审计运行 {run['id']}" in control_html(page, "geo-title")
    assert len(page.encode()) < MAX_PAGE_BYTES


def test_large_layers_switch_to_vector_tiles(city, monkeypatch):
    """Above INLINE_MAX_FEATURES the units, assignment lines and flagged facilities come from \
vector tiles of the run."""
    import mapbox_vector_tile

    import maps.base

    store, run = city
    rid = run["id"]
    monkeypatch.setattr(maps.base, "INLINE_MAX_FEATURES", 50)  # 84 planned or under construction, 12 on other land
    with TestClient(create_app(store)) as c:
        page = c.get("/maps/audit").text
        layers = data_layers(page)
        for prefix, output in (
            ("有无法安置居民的居住单元", "units"),
            ("避难安置", "assignment"),
            ("规划或在建", "facilities"),
        ):
            lyr = layer(layers, prefix)
            assert lyr["data"] is None and lyr["tiles"] == f"/tiles/analysis_{rid}_{output}/{{z}}/{{x}}/{{y}}.mvt", (
                prefix
            )
        assert layer(layers, "用地规划为他用的设施")["data"] is not None  # 12: still inline
        assert "/static/vendor/leaflet.vectorgrid-1.3.0/" in page
        # the tile of a unit with unplaced residents carries what the units layer's style, filter and popup read
        units = store.read_analysis_output(rid, "units")
        pt = units[units["emergency_unplaced"] > 0].geometry.iloc[0].representative_point()
        z, n = 15, 1 << 15
        x = int((pt.x + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(pt.y))) / math.pi) / 2 * n)
        r = c.get(f"/tiles/analysis_{rid}_units/{z}/{x}/{y}.mvt")
        assert r.status_code == 200
        feats = mapbox_vector_tile.decode(r.content)[f"analysis_{rid}_units"]["features"]
        wanted = {"emergency_unplaced", "emergency_unplaced_reason", "unit_id", "community_code", "residents", "name"}
        assert any(f["properties"].get("emergency_unplaced", 0) > 0 and wanted <= set(f["properties"]) for f in feats)
