"""A province in one run (issue 18): one coverage task per county on Dask, equal to one run over the whole province.

Ten synthetic counties (sample cities of different seeds) are placed edge to edge, so that facilities across a
border serve units near it.  The per-county results of the batch (county windows, Dask LocalCluster) must equal, unit
by unit and column by column, the coverage computed once over the whole province.  Without the window buffer they
would not: the test checks that too.
"""

from __future__ import annotations

import json
import math

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
    truth, _net, _plan = compute_from_store(store)
    store.dispose()
    folder = root / "counties"
    folder.mkdir()
    for c in counties:
        one = Store(f"sqlite:///{folder / (c.code + '.sqlite')}", settings=Settings(GEO_DATA_DIR=folder))
        one.upgrade()
        write_county(one, c)
        one.dispose()
    return url, folder, truth


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

    url, folder, truth = province
    source = url if source_kind == "store" else str(folder)
    report = run_batch(source, tmp_path / "out", workers=2 if source_kind == "store" else 1)
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


def test_the_buffer_matters(province, tmp_path, monkeypatch):
    """With no window margin the units near borders lose the facilities across them: the results differ."""
    import geo_service.batch as batch

    url, _folder, truth = province
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
    url, _folder, _truth = province
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


def test_a_killed_worker_is_survived(province, tmp_path):
    """A Dask worker killed mid-run: its county runs again on the restarted worker; every county finishes."""
    import os
    import signal

    from distributed import Client, LocalCluster

    url, _folder, truth = province
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
