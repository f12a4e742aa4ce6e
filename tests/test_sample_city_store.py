"""The sample city written into the store (both backends) and served over HTTP."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from geo_service.cli import app


def test_sample_city_cli_loads_serves_and_reloads(store, client):
    url = store.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(app, ["sample-city", "--scale", "0.1", "--seed", "3", "--database-url", url])
    assert r.exit_code == 0, r.output
    assert "合成数据" in r.output
    layers = ("population_units", "communities", "facilities", "network_nodes", "buildings")
    counts = {name: store.count(name) for name in layers}
    assert all(v > 0 for v in counts.values()), counts
    [plan] = store.list_plans()
    assert plan["status"] == "adopted"

    fc = client.get("/layers/population_units", params={"limit": 5}).json()
    assert fc["numberMatched"] == counts["population_units"] and fc["numberReturned"] == 5
    assert {"residents", "households", "residents_60plus"} <= set(fc["features"][0]["properties"])
    assert client.get("/health").json()["synthetic_data"] is True
    meta = client.get("/metadata").json()
    assert meta["synthetic"] is True and "合成" in meta["dataset"]["name_zh"]
    home = client.get("/").text
    assert "合成示例数据" in home
    for link in re.findall(r'href="(/[^"]*)"', home):  # every link of the home page answers
        r = client.get(link.replace("&amp;", "&"))
        assert r.status_code == 200, (link, r.text[:300])

    # same command again: replaced, not duplicated
    r = CliRunner().invoke(app, ["sample-city", "--scale", "0.1", "--seed", "3", "--database-url", url])
    assert r.exit_code == 0, r.output
    assert {name: store.count(name) for name in counts} == counts
    assert len(store.list_networks()) == 1
