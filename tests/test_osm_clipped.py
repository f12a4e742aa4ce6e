"""Extracts cut by a bounding box, as ``osmium extract`` writes them: import with the missing parts dropped and counted.

The cuts are made here with pyosmium, following ``osmium extract``'s strategies:
- ``simple``: the nodes inside the box, every way with a node inside (with all its node references, so nodes
  outside are referenced but missing), every relation with a member written;
- ``complete_ways``: as simple, plus every node of those ways (no reference is missing).
"""

from __future__ import annotations

import osmium
import pytest
import shapely
from typer.testing import CliRunner

from geo_service.cli import app
from geo_service.core.osm import read_osm
from geo_service.core.osm._clip import repair_clipped, scan_clipped
from tests.conftest import SHARED_DATA

EXTRACT = SHARED_DATA / "osm_beijing_wudaokou_2017.osm"


def _box_of_half(path):
    """The western half of the file's bounds (lon/lat degrees)."""
    box = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING).header().box()
    x0, y0, x1, y1 = box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat
    return x0, y0, (x0 + x1) / 2, y1


def cut(src, dst, bbox, strategy: str) -> None:
    """Write the part of ``src`` in ``bbox`` to ``dst`` as ``osmium extract --strategy`` would."""
    x0, y0, x1, y1 = bbox
    inside, ways, way_nodes = set(), set(), set()
    for n in osmium.FileProcessor(str(src), osmium.osm.NODE):
        if x0 <= n.location.lon <= x1 and y0 <= n.location.lat <= y1:
            inside.add(n.id)
    for w in osmium.FileProcessor(str(src), osmium.osm.WAY):
        refs = [n.ref for n in w.nodes]
        if any(r in inside for r in refs):
            ways.add(w.id)
            way_nodes.update(refs)
    keep_nodes = inside | way_nodes if strategy == "complete_ways" else inside
    header = osmium.io.Header()
    header.add_box(osmium.osm.Box(osmium.osm.Location(x0, y0), osmium.osm.Location(x1, y1)))
    writer = osmium.SimpleWriter(str(dst), header=header, overwrite=True)
    try:
        for obj in osmium.FileProcessor(str(src)):
            if isinstance(obj, osmium.osm.Node) and obj.id in keep_nodes:
                writer.add(obj)
            elif isinstance(obj, osmium.osm.Way) and obj.id in ways:
                writer.add(obj)
            elif isinstance(obj, osmium.osm.Relation) and any(
                (m.type == "n" and m.ref in keep_nodes) or (m.type == "w" and m.ref in ways) for m in obj.members
            ):
                writer.add(obj)
    finally:
        writer.close()


@pytest.mark.parametrize("suffix", [".osm", ".osm.pbf"])
def test_simple_cut_imports_with_the_cut_ways_split(tmp_path, suffix):
    bbox = _box_of_half(EXTRACT)
    path = tmp_path / f"cut{suffix}"
    cut(EXTRACT, path, bbox, "simple")
    scan = scan_clipped(path)
    assert scan.ways_cut > 0 and scan.missing_node_refs >= scan.ways_cut

    data = read_osm(path)
    assert data.stats["clip_ways_cut"] == scan.ways_cut
    assert data.stats["clip_missing_node_refs"] == scan.missing_node_refs
    assert len(data.nodes) > 100 and len(data.edges) > 100
    # every network node is a node of the file, so inside the box
    x0, y0, x1, y1 = bbox
    xy = shapely.get_coordinates(data.nodes.geometry.values)
    assert ((xy[:, 0] >= x0 - 1e-7) & (xy[:, 0] <= x1 + 1e-7) & (xy[:, 1] >= y0 - 1e-7) & (xy[:, 1] <= y1 + 1e-7)).all()
    assert (data.edges.length_m > 0).all()


def test_the_repaired_file_has_no_missing_reference_and_keeps_every_present_node(tmp_path):
    path, fixed = tmp_path / "cut.osm", tmp_path / "fixed.osm"
    cut(EXTRACT, path, _box_of_half(EXTRACT), "simple")
    report = repair_clipped(path, fixed)
    assert report.ways_cut == scan_clipped(path).ways_cut
    assert scan_clipped(fixed).ways_cut == 0
    count = lambda p: sum(1 for _ in osmium.FileProcessor(str(p), osmium.osm.NODE))  # noqa: E731
    assert count(fixed) == count(path)


def test_complete_ways_cut_needs_no_repair(tmp_path):
    path = tmp_path / "cut.osm"
    cut(EXTRACT, path, _box_of_half(EXTRACT), "complete_ways")
    assert scan_clipped(path).ways_cut == 0
    data = read_osm(path)
    assert data.stats["clip_ways_cut"] == 0 and len(data.edges) > 100


def test_a_whole_extract_is_read_as_it_is():
    """No way of the shared extracts misses a node: they are read without a repaired copy."""
    for name in ("osm_beijing_wudaokou_2017.osm", "osm_beijing_cau_2026.osm", "osm_jiangxi_guixi_2024.osm"):
        assert scan_clipped(SHARED_DATA / name).ways_cut == 0


def test_cli_says_what_was_dropped(store, tmp_path):
    path = tmp_path / "cut.osm.pbf"
    cut(EXTRACT, path, _box_of_half(EXTRACT), "simple")
    url = store.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(app, ["import-osm", str(path), "--database-url", url])
    assert r.exit_code == 0, r.output
    assert "OSM 导入完成" in r.output
    assert "按范围裁剪的提取" in r.output and "已在缺失处截断" in r.output
    assert "Traceback" not in r.output
    assert store.count("network_edges") > 100


def test_a_truncated_extract_is_a_clear_error(store, tmp_path):
    path = tmp_path / "truncated.osm"
    path.write_bytes(EXTRACT.read_bytes()[:300_000])
    url = store.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(app, ["import-osm", str(path), "--database-url", url])
    assert r.exit_code == 1
    assert "无法读取 OSM 文件" in r.output and "Traceback" not in r.output
    assert store.count("network_nodes") == 0
