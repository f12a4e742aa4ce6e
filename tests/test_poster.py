"""The printable community shelter map (maps/poster.py): ``geo-service poster``, ``GET /communities/{code}/poster.pdf``
and ``geo-service shelter-scenario``, on the grid of tests/_hazard_world.py. The PDF is read back with poppler
(``pdftotext``, ``pdfinfo``, ``pdftoppm``)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from geo_service.cli import app
from geo_service.core._errors import NotFoundError
from geo_service.core.settings import Settings
from maps.poster import poster_data, render_poster, resident_url
from tests import _hazard_world as W


def _url(store) -> str:
    return store.url.render_as_string(hide_password=False)


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_poster_cli_writes_an_a3_pdf_with_the_chinese_text(store, tmp_path):
    W.store_world(store)
    out = tmp_path / "poster.pdf"
    r = CliRunner().invoke(app, ["poster", "西区社区", "--out", str(out), "--database-url", _url(store)])
    assert r.exit_code == 0, r.output
    assert "西区社区" in r.output and "步行路线 2 条" in r.output
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True).stdout
    assert "(A3)" in info
    text = _text(out)
    for want in (
        "西区社区应急避难场所分布图",
        "社区代码 510603001001",
        "西广场",  # the shelter both compounds walk to
        "容纳 500 人",
        "数据日期：",
        "扫码查看",
        "北",
        "米",
        "步行避难路线（500 米内）",
        "社区边界",
    ):
        assert want in text, want
    assert "东公园" not in text  # no compound of 西区 walks there and it lies outside
    # the page renders and is mostly light paper with some ink
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(out), str(tmp_path / "page")], check=True)
    png = np.asarray(Image.open(next(tmp_path.glob("page*.png"))).convert("L"))
    assert png.shape[0] / png.shape[1] == pytest.approx(420 / 297, rel=0.01)
    dark = (png < 128).mean()
    assert 0.01 < dark < 0.4


def test_poster_routes_lead_from_each_compound_to_its_shelter(store):
    W.store_world(store)
    d = poster_data(store, "510603001001")
    assert sorted(d["units"]["name"]) == ["一号院", "三号院"]
    lengths = sorted(d["routes"].geometry.length.round(0).tolist())  # metric CRS: metres
    assert lengths == [110.0, 210.0]
    assert d["shelters"]["name"].tolist() == ["西广场"]
    assert d["data_date"][:2] == "20"


def test_qr_address_comes_from_the_public_url_setting(store, monkeypatch):
    W.store_world(store)
    settings = Settings(GEO_PUBLIC_URL="https://jiuyu.example.cn/")
    _pdf, info = render_poster(store, "东区社区", settings=settings)
    assert info["url"].startswith("https://jiuyu.example.cn/resident?lat=31.")
    assert "category=shelter" in info["url"]
    assert resident_url(Settings(), 104.4, 31.1).startswith("http://127.0.0.1:8000/resident?")


def test_unknown_community_is_a_clear_error(store, client, tmp_path):
    W.store_world(store)
    with pytest.raises(NotFoundError) as e:
        poster_data(store, "没有这个社区")
    assert "未找到社区「没有这个社区」" in e.value.message_zh and "西区社区" in e.value.message_zh
    r = client.get("/communities/没有这个社区/poster.pdf")
    assert r.status_code == 404 and "未找到社区" in r.json()["message_zh"]
    res = CliRunner().invoke(app, ["poster", "x9", "--out", str(tmp_path / "a.pdf"), "--database-url", _url(store)])
    assert res.exit_code == 1 and "未找到社区「x9」" in res.output and not (tmp_path / "a.pdf").exists()
    res = CliRunner().invoke(
        app, ["poster", "西区社区", "--out", str(tmp_path / "a.png"), "--database-url", _url(store)]
    )
    assert res.exit_code == 1 and ".pdf" in res.output


def test_poster_over_http(client, store, tmp_path):
    W.store_world(store)
    r = client.get("/communities/510603001002/poster.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    (tmp_path / "p.pdf").write_bytes(r.content)
    text = _text(tmp_path / "p.pdf")
    assert "东区社区应急避难场所分布图" in text and "东公园" in text and "二号院" in text


def test_shelter_scenario_cli(store, tmp_path):
    W.store_world(store, cap_b=150)
    out = tmp_path / "s.geojson"
    args = ["shelter-scenario", "--hazard", "G", "--out", str(out), "--database-url", _url(store)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "无法安置：50 → 450 人" in r.output and "西区社区（510603001001）：0 → 400 人" in r.output
    fc = json.loads(out.read_text())
    assert {f["properties"]["layer"] for f in fc["features"]} == {"zones", "shelters", "routes", "units"}
    html = tmp_path / "s.html"
    r = CliRunner().invoke(app, [*args[:-4], "--out", str(html), "--database-url", _url(store)])
    assert r.exit_code == 0 and html.read_text().count("<html") == 1
    bad = CliRunner().invoke(app, ["shelter-scenario", "--close", "nope", "--database-url", _url(store)])
    assert bad.exit_code == 1 and "未找到编号为 nope 的避难场所" in bad.output
    bad = CliRunner().invoke(app, ["shelter-scenario", "--out", str(tmp_path / "x.pdf"), "--database-url", _url(store)])
    assert bad.exit_code == 1 and ".xlsx" in bad.output


def test_compounds_without_a_place_are_marked_only_where_there_are_some(store, tmp_path):
    W.store_world(store, cap_b=150)  # 二号院 (east) has 200 residents, 东公园 holds 150
    for community, marked in (("东区社区", True), ("西区社区", False)):
        pdf, _info = render_poster(store, community)
        (tmp_path / "p.pdf").write_bytes(pdf)
        assert ("米内无避难位置的小区" in _text(tmp_path / "p.pdf")) is marked


def test_a_community_without_shelters_is_said_on_the_poster_and_in_the_cli(store, tmp_path):
    from geo_service.core.edits import delete_feature

    W.store_world(store)
    for fid in store.read_layer("shelters")["id"]:
        delete_feature(store, "shelters", int(fid), actor="test")
    out = tmp_path / "none.pdf"
    r = CliRunner().invoke(app, ["poster", "西区社区", "--out", str(out), "--database-url", _url(store)])
    assert r.exit_code == 0, r.output
    assert "避难场所 0 处" in r.output and "没有应急避难场所" in r.output
    text = _text(out)
    assert "本图范围内暂无应急避难场所" in text and "米内无避难位置的小区" in text
