"""Analysis runs: stored with parameters, revisions and feature outputs, on both backends."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo_service.core._errors import NotFoundError


def _frame():
    return gpd.GeoDataFrame(
        {
            "feature_key": ["u1", "u2", "u3"],
            "walk_m": [120.5, np.nan, 800.0],
            "missing": [[], ["kindergarten"], ["market", "nursery"]],
            "covered": [True, False, True],
        },
        geometry=[shapely.box(104.0, 31.0, 104.01, 31.01), shapely.Point(104.5, 31.5), None],
        crs=4326,
    )


def test_save_and_read_back(store):
    rid = store.save_analysis(
        "coverage",
        params={"level": "5min", "walking_speed_mps": 1.0},
        summary={"rate": 0.5},
        outputs={"units": _frame(), "empty": _frame().iloc[:0]},
    )
    run = store.get_analysis(rid)
    assert run["kind"] == "coverage" and run["params"]["level"] == "5min" and run["summary"] == {"rate": 0.5}
    assert run["outputs"] == {"units": 3}
    assert isinstance(run["data_revisions"], dict)
    back = store.read_analysis_output(rid, "units")
    assert list(back["feature_key"]) == ["u1", "u2", "u3"]
    assert back["walk_m"].iloc[0] == pytest.approx(120.5) and back["walk_m"].isna().iloc[1]
    assert back["missing"].iloc[2] == ["market", "nursery"]
    assert back.geometry.iloc[2] is None
    assert back.geometry.iloc[0].equals_exact(shapely.box(104.0, 31.0, 104.01, 31.01), 1e-9)
    # bbox filter uses the spatial index and skips rows without geometry
    inside = store.read_analysis_output(rid, "units", bbox=(103.9, 30.9, 104.1, 31.1))
    assert list(inside["feature_key"]) == ["u1"]
    assert store.count_analysis_output(rid, "units") == 3
    assert store.count_analysis_output(rid, "units", bbox=(104.4, 31.4, 104.6, 31.6)) == 1
    assert len(store.read_analysis_output(rid, "units", limit=1, offset=1)) == 1


def test_latest_matches_params_and_delete(store):
    a = store.save_analysis("coverage", params={"level": "5min"}, summary={})
    b = store.save_analysis("coverage", params={"level": "15min"}, summary={})
    store.save_analysis("audit", params={}, summary={})
    assert store.latest_analysis("coverage")["id"] == b
    assert store.latest_analysis("coverage", params={"level": "5min"})["id"] == a
    assert store.latest_analysis("nothing") is None
    assert [r["id"] for r in store.list_analyses("coverage")] == [b, a]
    store.delete_analysis(a)
    with pytest.raises(NotFoundError):
        store.get_analysis(a)


def test_save_is_one_transaction(store):
    before = len(store.list_analyses())
    with pytest.raises(TypeError):  # the second output is not a frame: fails after the run row and "units" are written
        store.save_analysis("coverage", params={}, summary={}, outputs={"units": _frame(), "bad": 5})
    assert len(store.list_analyses()) == before
    rid = store.save_analysis("coverage", params={}, summary={})
    assert store.count_analysis_output(rid - 1, "units") == 0
