"""A province in one run (issue 18): one task per county on Dask, equal to one run over the whole province.

Ten synthetic counties (sample cities of different seeds) are placed edge to edge, so that facilities across a
border serve units near it.  The per-county results of the batch (county windows, Dask LocalCluster) must equal, unit
by unit and column by column, the coverage computed once over the whole province.  Without the window buffer they
would not: the test checks that too.  The audit of each county in the batch must equal, table by table, the audit of
that county's own features (each feature to the county holding its representative point) on the whole network.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geo_service.batch import run_batch
from geo_service.cli import app as cli
from geo_service.core.sample_city.province import (
    connect_neighbours,
    generate_province,
    write_county,
    write_province,
)
from geo_service.core.settings import Settings
from geo_service.core.storage import Store

N_COUNTIES = 10
SCALE = 0.15


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    """(province store URL, folder of county stores, the province's own coverage units)."""
    from facilities.service import compute_from_store

    root = tmp_path_factory.mktemp("province")
    counties = list(generate_province(N_COUNTIES, scale=SCALE, columns=5))
    assert connect_neighbours(counties) > 0  # streets run on across county lines
    url = f"sqlite:///{root / 'province.sqlite'}"
    store = Store(url, settings=Settings(GEO_DATA_DIR=root))
    store.upgrade()
    write_province(store, counties)
    truth, net, _plan = compute_from_store(store)
    audits = _audit_truth(store, net)
    store.dispose()
    folder = root / "counties"
    folder.mkdir()
    for c in counties:
        one = Store(f"sqlite:///{folder / (c.code + '.sqlite')}", settings=Settings(GEO_DATA_DIR=folder))
        one.upgrade()
        write_county(one, c)
        one.dispose()
    return url, folder, truth, audits


def _audit_truth(store, net) -> dict:
    """Per county: the audit of the features whose representative point lies in it, on the whole network (the
    single-county run), computed here without the batch's windows; hazards: those whose zone reaches the county."""
    from facilities.audit import compute_audit
    from facilities.audit_service import flag_shelters_in_hazards
    from facilities.hazards import hazard_zones

    outlines = store.read_layer("admin_areas", where={"level": "county"})
    plan = next(p for p in store.list_plans() if p["status"] == "adopted")
    layers = {n: store.read_layer(n) for n in AUDIT_INPUTS if n not in ("communities", "hazards")}
    layers["communities"] = store.read_layer("communities", plan_id=plan["id"])
    county_of = {}
    for name, frame in layers.items():
        pts = frame.geometry.representative_point()
        inside = np.stack([pts.covered_by(g).to_numpy() for g in outlines.geometry], axis=1)
        assert (inside.sum(axis=1) == 1).all(), name  # every feature in exactly one county of this province
        county_of[name] = outlines["code"].astype(str).to_numpy()[inside.argmax(axis=1)]
    hazards = store.read_layer("hazards")
    zones = hazard_zones(hazards, store.norms, metric_crs=net.crs)
    out = {}
    for code, outline in zip(outlines["code"].astype(str), outlines.geometry):
        own = {n: f[county_of[n] == code].reset_index(drop=True) for n, f in layers.items()}
        hz = hazards[hazards["id"].isin(zones.loc[zones.intersects(outline), "hazard_id"])].reset_index(drop=True)
        result = compute_audit(
            own["communities"],
            own["population_units"],
            own["facilities"],
            own["shelters"],
            own["plan_parcels"],
            own["developments"],
            store.norms,
            net=net,
            idle_assets=own["idle_assets"],
            space_candidates=own["space_candidates"],
        )
        flag_shelters_in_hazards(result, hz, store.norms, net)
        out[code] = result
    return out


AUDIT_INPUTS = (
    "communities",
    "population_units",
    "facilities",
    "shelters",
    "plan_parcels",
    "developments",
    "idle_assets",
    "space_candidates",
    "hazards",
)


def _same_table(got: pd.DataFrame, want: pd.DataFrame, where: str, *, ids: bool = True) -> None:
    """Column by column, row by row: floats exactly (NaN equal), geometries exactly, other values as text (lists
    and dicts as the batch writes them: JSON).  ``ids=False``: columns of store ids left out (folder source)."""
    from geo_service.batch import _plain

    want = _plain(want)
    if not ids and "source_id" in want.columns:  # hazards of several county files: in file order, not id order
        got = got.sort_values("source_id", ignore_index=True)
        want = want.sort_values("source_id", ignore_index=True)
    assert list(got.columns) == list(want.columns), where
    assert len(got) == len(want), where
    for col in want.columns:
        if not ids and ("_id" in col or col in ("id", "feature_key")):  # store ids, or lists of them
            continue
        a, b = got[col], want[col]
        if isinstance(want, gpd.GeoDataFrame) and col == want.geometry.name:
            assert (a.to_wkb().to_numpy() == b.to_wkb().to_numpy()).all(), (where, col)
        elif a.dtype.kind == "f" or b.dtype.kind == "f":
            assert np.array_equal(a.to_numpy(float), b.to_numpy(float), equal_nan=True), (where, col)
        else:
            assert (a.astype(str).to_numpy() == b.astype(str).to_numpy()).all(), (where, col)


def _check_audit(out, audits, *, ids: bool) -> int:
    """Compare every audit part of the batch with the county's own audit; return the tables compared."""
    from facilities.audit_service import OUTPUTS

    compared = 0
    for code, result in audits.items():
        for name in OUTPUTS:
            want = getattr(result, name, None)
            part = out / "audit" / name / f"county={code}" / "part-0.parquet"
            if want is None or len(want) == 0:
                assert not part.exists(), (code, name)
                continue
            got = gpd.read_parquet(part) if isinstance(want, gpd.GeoDataFrame) else pd.read_parquet(part)
            _same_table(got, want, f"{code}/{name}", ids=ids)
            compared += 1
    return compared


def _batch_units(out) -> pd.DataFrame:
    parts = sorted((out / "coverage").glob("county=*/part-0.parquet"))
    import geopandas as gpd

    return pd.concat([gpd.read_parquet(p).assign(county=p.parent.name[7:]) for p in parts], ignore_index=True)


def _comparable(units: pd.DataFrame, rules, margin_m: float) -> pd.DataFrame:
    """Result columns that must agree, by source_id; facility ids as the facility's source_id is not stored, so
    compared only for the store source (same ids)."""
    keep = [c for c in units.columns if c.endswith(("_walk_m", "_covered", "_straight_m")) or c.startswith("complete_")]
    keep += ["residents", "households", "reachable", "snap_offset_m", "community_code", "street_code"]
    out = units.set_index("source_id")[keep].copy()
    for c in rules:  # crow-fly distances past the window margin are inf in the batch (see geo_service.batch)
        col = f"{c}_straight_m"
        out[col] = np.where(out[col].to_numpy(dtype=float) > margin_m, np.inf, out[col].to_numpy(dtype=float))
    return out.sort_index()


@pytest.mark.parametrize("source_kind", ["store", "folder"])
def test_batch_equals_one_run_over_the_province(province, tmp_path, source_kind):
    from facilities.coverage import CoverageParams
    from geo_service.batch import window_margins_m

    url, folder, truth, audits = province
    source = url if source_kind == "store" else str(folder)
    analyses = ("coverage", "audit")
    report = run_batch(source, tmp_path / "out", analyses=analyses, workers=2 if source_kind == "store" else 1)
    assert not report.failed, report.failed
    assert len(report.done) == N_COUNTIES
    batch = _batch_units(tmp_path / "out")
    assert batch["source_id"].is_unique
    assert len(batch) == len(truth.units)  # every unit once, in its own county only
    margin, _ = window_margins_m(Store(url).norms, CoverageParams())
    got = _comparable(batch, truth.rules, margin)
    want = _comparable(truth.units, truth.rules, margin)
    assert list(got.index) == list(want.index)
    for col in want.columns:
        a, b = got[col].to_numpy(), want[col].to_numpy()
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            assert np.array_equal(a.astype(float), b.astype(float), equal_nan=True), col
        else:
            assert (pd.Series(a).astype(str).to_numpy() == pd.Series(b).astype(str).to_numpy()).all(), col
    assert report.summary_xlsx.exists() and report.summary_map.exists()
    summary = pd.read_excel(report.summary_xlsx, sheet_name="区县汇总")
    assert {"区县代码", "区县名称", "常住人口"} <= set(summary.columns)
    assert summary["常住人口"].sum() == truth.units["residents"].sum()
    html = report.summary_map.read_text(encoding="utf-8")
    from maps.assets import external_references

    assert external_references(html) == [] and "590009" in html
    # the audit: every table of every county equals the county's own audit on the whole network
    assert _check_audit(tmp_path / "out", audits, ids=source_kind == "store") >= 8 * N_COUNTIES
    for code, result in audits.items():  # the headline figures in the summary are the county's own totals
        row = summary.loc[summary["区县代码"].astype(str) == code].iloc[0]
        assert row["审计：服务用房缺口（m²）"] == result.totals["service_floor_gap_m2"]
        assert row["审计：紧急避难安置缺口（人）"] == result.totals["emergency"]["unplaced"]
        assert row["审计：服务用房不足的社区数"] == result.totals["communities_with_space_gap"]
    assert summary["审计：紧急避难安置缺口（人）"].sum() > 0  # the figure is not zero everywhere


def test_the_buffer_matters(province, tmp_path, monkeypatch):
    """With no window margin the units near borders lose the facilities across them: the results differ."""
    import geo_service.batch as batch

    url, _folder, truth, _audits = province
    src = batch.open_source(url)
    county = next(c for c in src.counties() if c.code == "590001")  # middle of the first row: two neighbours
    with_buffer = batch.run_county(src, county, str(tmp_path / "a"), {})
    monkeypatch.setattr(batch, "window_margins_m", lambda norms, params: (0.0, params.max_snap_m))
    without = batch.run_county(src, county, str(tmp_path / "b"), {})
    import geopandas as gpd

    got = gpd.read_parquet(without.path).set_index("source_id").sort_index()
    ok = gpd.read_parquet(with_buffer.path).set_index("source_id").sort_index()
    want = truth.units.set_index("source_id").loc[ok.index]
    walks = [c for c in want.columns if c.endswith("_walk_m")]
    longer = sum(int((got[c].to_numpy(float) > want[c].to_numpy(float) + 1e-9).sum()) for c in walks)
    assert longer > 0  # nearest facilities across the border are missed without the margin
    assert all(np.array_equal(ok[c].to_numpy(float), want[c].to_numpy(float), equal_nan=True) for c in walks)


def test_cli_batch_resumes_and_refuses_bad_input(province, tmp_path):
    url, _folder, _truth, _audits = province
    out = tmp_path / "o"
    r = CliRunner().invoke(cli, ["batch", "--counties", url, "--out", str(out), "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert f"完成 {N_COUNTIES} 个区县" in r.output
    marker = json.loads((out / "_done" / "590000.json").read_text(encoding="utf-8"))
    assert marker["summary"]["residents"] > 0 and math.isfinite(marker["seconds"])
    (out / "_done" / "590003.json").unlink()
    again = run_batch(url, out, workers=1)
    assert [r.code for r in again.done] == ["590003"] and len(again.skipped) == N_COUNTIES - 1
    r = CliRunner().invoke(cli, ["batch", "--counties", url, "--out", str(out), "--analyses", "siting"])
    assert r.exit_code == 1 and "不支持的分析" in r.output
    r = CliRunner().invoke(cli, ["batch", "--counties", str(tmp_path / "nowhere"), "--out", str(out)])
    assert r.exit_code == 1 and "找不到区县数据来源" in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    r = CliRunner().invoke(cli, ["batch", "--counties", str(empty), "--out", str(out)])
    assert r.exit_code == 1 and "没有区县数据" in r.output


def test_audit_failure_is_reported_and_resumed(province, tmp_path):
    """A county whose audit cannot run (no communities in its file) is reported in Chinese and the others finish;
    once fixed, a rerun computes that county only; a coverage-only marker does not finish a county for the audit."""
    import shutil

    import sqlalchemy as sa

    _url, folder, _truth, _audits = province
    broken = tmp_path / "counties"
    shutil.copytree(folder, broken)
    store = Store(f"sqlite:///{broken / '590004.sqlite'}")
    with store.transaction() as conn:
        conn.execute(sa.text("DELETE FROM communities"))
    store.dispose()
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["batch", "-c", str(broken), "-o", str(out), "-a", "coverage,audit", "-w", "1"])
    assert r.exit_code == 1, r.output
    assert "区县 590004 失败" in r.output and "无法审计" in r.output
    assert f"完成 {N_COUNTIES - 1} 个区县" in r.output
    assert json.loads((out / "_failed" / "590004.json").read_text(encoding="utf-8"))["error"].endswith("无法审计")
    failed_sheet = pd.read_excel(out / "省级汇总.xlsx", sheet_name="失败的区县")
    assert failed_sheet["区县代码"].astype(str).tolist() == ["590004"]
    shutil.copy(folder / "590004.sqlite", broken / "590004.sqlite")  # fixed
    again = run_batch(str(broken), out, analyses=("coverage", "audit"), workers=1)
    assert [d.code for d in again.done] == ["590004"] and not again.failed
    assert not (out / "_failed" / "590004.json").exists()
    assert (out / "audit" / "communities" / "county=590004" / "part-0.parquet").exists()
    assert not run_batch(str(broken), out, analyses=("coverage",), workers=1).done  # the audit's markers cover it
    only_coverage = tmp_path / "only_coverage"
    (only_coverage / "_done").mkdir(parents=True)
    marker = json.loads((out / "_done" / "590001.json").read_text(encoding="utf-8"))
    marker["analyses"] = ["coverage"]
    (only_coverage / "_done" / "590001.json").write_text(json.dumps(marker), encoding="utf-8")
    from geo_service.batch import finished_counties

    assert finished_counties(only_coverage, ("coverage",)) == {"590001"}
    assert finished_counties(only_coverage, ("coverage", "audit")) == set()


def test_a_killed_worker_is_survived(province, tmp_path):
    """A Dask worker killed mid-run: its county runs again on the restarted worker; every county finishes."""
    import os
    import signal

    from distributed import Client, LocalCluster

    url, _folder, truth, _audits = province
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    killed = []
    try:
        with Client(cluster) as client:
            pids = list(client.run(os.getpid).values())

        def progress(done, total, code):
            if not killed:  # after the first county: kill a worker that is busy with another one
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        report = run_batch(url, tmp_path / "out", scheduler=cluster.scheduler_address, progress=progress)
    finally:
        cluster.close()
    assert killed and not report.failed and len(report.done) == N_COUNTIES
    assert len(_batch_units(tmp_path / "out")) == len(truth.units)
