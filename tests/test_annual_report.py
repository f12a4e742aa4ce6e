"""The annual report (社区设施体检报告, issue 17 item 5) on the sample city: the CLI writes a Word document from the
packaged docxtpl template (four article chapters, a table per street, four maps, the norms used) and its PDF through
LibreOffice; the figures equal the stored analyses'; bad templates and a missing LibreOffice are refused in Chinese
with nothing written; ``GET /reports/annual`` serves it."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time

import numpy as np
import pytest
from docx import Document
from docx.table import Table
from docx.text.paragraph import Paragraph
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from boundaries.service import PlanService
from facilities.audit_service import current_audit
from facilities.service import current_coverage
from geo_service.app import create_app
from geo_service.cli import app as cli
from geo_service.core._errors import InputError
from maps.annual_report import ReportParams, ReportToolError, render
from tests.conftest import sample_city_store

CHAPTERS = ("条例第三条", "条例第十二条", "条例第十五条", "条例第十八条")
needs_soffice = pytest.mark.skipif(  # in CI (scripts/test.sh installs it) a missing LibreOffice fails instead
    shutil.which("soffice") is None and not os.environ.get("CI"), reason="LibreOffice (soffice) not installed"
)


@pytest.fixture(scope="module")
def city(spatialite_template, tmp_path_factory):
    store = sample_city_store(spatialite_template, tmp_path_factory.mktemp("annual_report"))
    yield store
    store.dispose()


@pytest.fixture
def env(city, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", city.url.render_as_string(hide_password=False))
    monkeypatch.setenv("GEO_DATA_DIR", str(city.settings.data_dir))  # the city's network cache, not ./data
    return tmp_path


@pytest.fixture(scope="module")
def built(city, tmp_path_factory):
    """The report of the sample city written by the CLI, with its PDF (when LibreOffice is installed)."""
    out = tmp_path_factory.mktemp("report") / "社区设施体检报告.docx"
    mp = pytest.MonkeyPatch()
    mp.setenv("DATABASE_URL", city.url.render_as_string(hide_password=False))
    mp.setenv("GEO_DATA_DIR", str(city.settings.data_dir))
    args = ["report", "--year", "2026", "--out", str(out)] + (["--pdf"] if shutil.which("soffice") else [])
    t = time.perf_counter()
    res = CliRunner().invoke(cli, args)
    seconds = time.perf_counter() - t
    mp.undo()
    assert res.exit_code == 0, res.output
    assert f"已写出：{out}" in res.output
    return out, seconds


def text_of(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


# ----------------------------------------------------------------------------- the Word document
def test_docx_has_chapters_street_tables_maps_and_norms(city, built):
    out, _ = built
    doc = Document(out)
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    for art in CHAPTERS:
        assert sum(art in h for h in headings) == 1, (art, headings)
    assert "摘要" in headings and any("规范依据" in h for h in headings)
    # a table per street: its heading, then a table with one row per community of the adopted plan in that street
    plan = [p for p in city.list_plans() if p["status"] == "adopted"][-1]
    comm = city.read_layer("communities", plan_id=plan["id"])
    body = list(doc.iter_inner_content())
    streets = city.read_layer("admin_areas", where={"level": "street"})
    assert 9 <= len(streets) <= 13  # the sample city's streets, about 50,000 residents each
    for code, name in zip(streets["code"].astype(str), streets["name"]):
        n = int((comm["street_code"].astype(str) == code).sum())
        assert n > 0
        heading = f"{name}（{n} 个社区）"
        idx = next(i for i, el in enumerate(body) if isinstance(el, Paragraph) and el.text == heading)
        tbl = next(el for el in body[idx + 1 :] if isinstance(el, Table))
        rows = tbl.rows
        assert len(rows) == n + 1  # header + one per community
    # four maps, drawn (not blank)
    assert len(doc.inline_shapes) == 4
    pngs = [r.target_part.blob for r in doc.part.rels.values() if "image" in r.reltype]
    assert len(pngs) == 4
    for blob in pngs:
        img = np.asarray(Image.open(io.BytesIO(blob)).convert("L"))
        assert img.shape[1] >= 1000 and (img < 128).mean() > 0.02
    # the norms used, with sources and status
    norms = doc.tables[-1]
    assert norms.rows[0].cells[2].text == "来源"
    src = {r.cells[0].text: r.cells[2].text for r in norms.rows[1:]}
    e = city.norms.entry("shelter.emergency_walk_limit_m")
    assert src["紧急避难场所步行距离上限（米）"] == e.source
    assert len(norms.rows) - 1 == sum(1 for _ in filter(None, [r.cells[3].text for r in norms.rows[1:]]))
    assert "{{" not in text_of(doc) and "{%" not in text_of(doc)


def test_docx_figures_equal_the_analyses(city, built):
    out, _ = built
    text = text_of(Document(out))
    a = current_audit(city, allow_compute=False)["summary"]
    e = a["emergency"]
    assert f"{a['communities_without_office']} 个社区无固定办公场所" in text
    assert f"合计缺口 {a['service_floor_gap_m2']:,.0f} m²" in text
    assert f"无法安置 {e['unplaced']:,} 人" in text
    c = current_coverage(city, allow_compute=False)["summary"]
    assert f"常住人口 {c['residents']:,} 人" in text
    _, ev, _ = PlanService(city).evaluate([p for p in city.list_plans() if p["status"] == "adopted"][-1]["id"])
    assert f"{ev.totals['communities']} 个社区中 {ev.totals['in_band']} 个" in text
    if ev.communities["community_workers"].notna().all():
        assert f"社区工作者现有 {ev.totals['community_workers']:,.0f} 人，" in text
    # per-street rows of Art. 18 equal the audit's street table
    for s in a["streets"]:
        name = city.read_layer("admin_areas", where={"code": s["street_code"]})["name"].iloc[0]
        assert re.search(rf"{name}\n{s['communities']}\n{s['without_office']}\n{s['with_space_gap']}\n", text)
    assert "德阳示例区" in text and "合成示例数据" in text


@needs_soffice
def test_pdf_text_and_pages(city, built, tmp_path):
    out, _ = built
    pdf = out.with_suffix(".pdf")
    assert pdf.is_file()
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, timeout=60).stdout
    text = re.sub(r"\s+", " ", text.decode())
    a = current_audit(city, allow_compute=False)["summary"]
    assert "德阳示例区" in text and "社区设施体检报告" in text
    assert f"无法安置 {a['emergency']['unplaced']:,} 人" in text
    for art in ("第三条", "第十二条", "第十五条", "第十八条"):
        assert art in text
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "p")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) >= 8
    for p in pages[:3]:
        img = np.asarray(Image.open(p).convert("L"))
        assert (img < 200).mean() > 0.005  # text or a map on every page


# ----------------------------------------------------------------------------- bad input, nothing written
def _template(tmp_path, text: str):
    d = Document()
    for line in text.split("\n"):
        d.add_paragraph(line)
    path = tmp_path / "县模板.docx"
    d.save(path)
    return path


GOOD = "{{ city_name }}{{ year }} {{ art3.communities }} {{ art12.rate_15min }} {{ art15.unplaced }} {{ art18.gap_m2 }}"
GOOD += "\n{%p for n in norms %}\n{{ n.name }} {{ n.source }}\n{%p endfor %}"


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("{{ city_name }} {{ mayor }}", ["未知字段：mayor", "缺少必需字段：year、art3、art12、art15、art18、norms"]),
        (GOOD + "\n{{ art12.bogus_rate }}", ["未知字段：art12.bogus_rate"]),
        (GOOD.replace("n.source", "n.sorce"), ["未知字段：n.sorce"]),
        (GOOD + "\n{{ year }", ["字段语法错误"]),
    ],
)
def test_bad_template_is_refused_with_nothing_written(env, tmp_path, text, expect):
    out = tmp_path / "out" / "报告.docx"
    res = CliRunner().invoke(
        cli, ["report", "--year", "2026", "--out", str(out), "--template", str(_template(tmp_path, text))]
    )
    assert res.exit_code == 1
    msg = re.sub(r"\s+", "", res.output)
    for e in expect:
        assert re.sub(r"\s+", "", e) in msg, res.output
    assert "未生成任何文件" in msg and "Traceback" not in res.output
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_county_template_with_its_own_wording(env, tmp_path):
    out = tmp_path / "县报告.docx"
    res = CliRunner().invoke(
        cli, ["report", "--year", "2031", "--out", str(out), "--template", str(_template(tmp_path, "本县" + GOOD))]
    )
    assert res.exit_code == 0, res.output
    text = text_of(Document(out))
    assert text.startswith("本县德阳示例区2031") and "GB 50180-2018" in text


def test_not_a_word_file_and_bad_options(env, tmp_path):
    fake = tmp_path / "t.docx"
    fake.write_text("not a zip")
    runs = [
        (["--template", str(fake)], "不是有效的 Word 文档"),
        (["--template", str(tmp_path / "none.docx")], "找不到报告模板文件"),
        (["--year", "1999"], "年度应在 2000 至 2100 之间"),
    ]
    for extra, zh in runs:
        res = CliRunner().invoke(cli, ["report", "--out", str(tmp_path / "r.docx"), *extra])
        assert res.exit_code == 1 and zh in res.output, res.output
    res = CliRunner().invoke(cli, ["report", "--out", str(tmp_path / "r.pdf")])
    assert res.exit_code == 1 and "应为 Word 文档（.docx）" in res.output
    assert not (tmp_path / "r.docx").exists() and not (tmp_path / "r.pdf").exists()


def test_pdf_without_libreoffice_writes_nothing(env, tmp_path, monkeypatch):
    monkeypatch.setattr(render, "soffice_path", lambda: None)
    out = tmp_path / "报告.docx"
    res = CliRunner().invoke(cli, ["report", "--year", "2026", "--out", str(out), "--pdf"])
    assert res.exit_code == 1 and "未安装 LibreOffice" in res.output
    assert list(tmp_path.glob("*.docx")) == [] and list(tmp_path.glob("*.pdf")) == []


def test_pdf_conversion_that_hangs_is_stopped(tmp_path):
    slow = tmp_path / "soffice"
    slow.write_text("#!/bin/sh\nsleep 60\n")
    slow.chmod(0o755)
    t = time.perf_counter()
    with pytest.raises(ReportToolError) as exc:
        render.to_pdf(b"x", soffice=str(slow), timeout_s=1.0)
    assert time.perf_counter() - t < 10 and "未完成 PDF 转换" in exc.value.message_zh


# ----------------------------------------------------------------------------- HTTP
def _client(store) -> TestClient:
    return TestClient(create_app(store))


def test_http_docx_and_bad_queries(city):
    with _client(city) as c:
        r = c.get("/reports/annual", params={"year": 2026})
        assert r.status_code == 200 and r.headers["content-type"].startswith(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        )
        assert "filename*=UTF-8''" in r.headers["content-disposition"]
        doc = Document(io.BytesIO(r.content))
        assert "2026" in doc.paragraphs[2].text + text_of(doc)[:300]
        t = time.perf_counter()
        again = c.get("/reports/annual", params={"year": 2026})
        assert again.content == r.content and time.perf_counter() - t < 2.0  # kept while no input changed
        if shutil.which("soffice"):
            pdf = c.get("/reports/annual", params={"year": 2026, "format": "pdf"})
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
            assert pdf.content.startswith(b"%PDF")
        for q in ({"year": 1800}, {"year": "abc"}, {"format": "xls"}):
            bad = c.get("/reports/annual", params=q)
            assert bad.status_code == 422 and bad.json().get("message_zh"), q


def test_http_without_adopted_plan(store):
    """Both back ends: an empty store answers 404 in Chinese, nothing is stored."""
    with _client(store) as c:
        r = c.get("/reports/annual")
    assert r.status_code == 404 and "尚无已采纳的社区划分方案" in r.json()["message_zh"]
    assert store.list_analyses("coverage") == [] and store.list_analyses("audit") == []


def test_build_time_under_a_minute(built):
    _, seconds = built
    assert seconds < 120  # docs/benchmarks.md: the Word report alone is well under 60 s on 2 cores


def test_params_from_input():
    assert ReportParams.from_input("2030", "PDF").fmt == "pdf"
    with pytest.raises(InputError) as exc:
        ReportParams.from_input(2026, "odt")
    assert "未知的报告格式" in exc.value.message_zh
    with pytest.raises(InputError) as exc:
        ReportParams.from_input("二〇二六")
    assert "年度应为整数" in exc.value.message_zh


# ----------------------------------------------------------------------------- both back ends, a hand-made world
def test_report_on_a_small_world_both_backends(store):
    """The tiny world (tests/_tiny_world.py) with a county and two streets: the report builds on SpatiaLite and
    PostGIS, one table per street with its one community, and the audit's figures."""
    import geopandas as gpd
    import shapely

    from maps.annual_report import build_report
    from tests._tiny_world import METRIC, X0, Y0, store_world

    store_world(store)
    areas = gpd.GeoDataFrame(
        {
            "source_id": ["county", "s1", "s2"],
            "level": ["county", "street", "street"],
            "code": ["510603", "510603001", "510603002"],
            "name": ["小河区", "南岸街道", "北岸街道"],
            "parent_code": [None, "510603", "510603"],
        },
        geometry=[
            shapely.box(X0 - 300, Y0 - 1100, X0 + 1100, Y0 + 300),
            shapely.box(X0 - 300, Y0 - 1100, X0 + 1100, Y0 + 50),
            shapely.box(X0 - 300, Y0 + 50, X0 + 1100, Y0 + 300),
        ],
        crs=METRIC,
    ).to_crs(4326)
    store.upsert_layer("admin_areas", areas)
    report = build_report(store, ReportParams.from_input(2027))
    doc = Document(io.BytesIO(report.docx))
    text = text_of(doc)
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert all(any(art in h for h in headings) for art in CHAPTERS)
    assert "南岸街道（1 个社区）" in headings and "北岸街道（1 个社区）" in headings
    assert text.startswith("小河区") or "小河区" in text[:200]
    a = current_audit(store, allow_compute=False)["summary"]
    assert f"无法安置 {a['emergency']['unplaced']:,} 人" in text
    assert f"常住人口 {350:,} 人" in text  # 100 + 200 + 50 residents
    # no community has its workers recorded: said so, rather than "0 workers" and "0 short"
    assert "社区工作者人数未录入" in text and "社区工作者不足" not in text and "社区工作者现有" not in text
    placed = a["emergency"]["placed"]
    assert ("已安置居民平均步行" in text) == (placed > 0)
    assert len(doc.inline_shapes) == 4


def test_map_furniture_scale_and_north():
    """The scale bar is the longest round length within a fifth of the map, drawn to the axes' metres; the north
    arrow turns by the Gauss-Krüger grid convergence (none on the central meridian; west of it true north lies
    east of grid north)."""
    from matplotlib.figure import Figure
    from pyproj import CRS

    from maps.annual_report.figures import convergence_deg, scale_bar

    for width, expect in ((1400, 250), (7000, 1000), (30000, 5000)):
        ax = Figure().add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width * 1.1)
        ax.set_ylim(0, width)
        assert scale_bar(ax, width) == expect
        bar = [p for p in ax.patches]
        assert len(bar) == 4 and abs(sum(p.get_width() for p in bar) - expect) < 1e-6
    gk = CRS.from_epsg(4544)  # CGCS2000 3-degree zone, central meridian 105 E
    assert abs(convergence_deg(gk, 105.0, 31.1)) < 1e-6
    west = convergence_deg(gk, 104.4, 31.1)
    assert -0.4 < west < -0.2  # clockwise (true north east of grid north): (104.4 - 105) * sin(31.1 deg) = -0.31 deg
    assert convergence_deg(gk, 105.6, 31.1) == pytest.approx(-west, abs=1e-3)


def test_packaged_template_is_the_build_script_output(tmp_path):
    """maps/annual_report/templates/社区设施体检报告.docx is what build_template.py writes (rebuild it after edits)."""
    from maps.annual_report import DEFAULT_TEMPLATE
    from maps.annual_report.build_template import build

    fresh = Document(build(tmp_path / "t.docx"))
    shipped = Document(DEFAULT_TEMPLATE)
    assert text_of(fresh) == text_of(shipped)
    assert [p.style.name for p in fresh.paragraphs] == [p.style.name for p in shipped.paragraphs]
