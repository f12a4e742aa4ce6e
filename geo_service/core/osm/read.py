"""Reading OSM extracts (XML, PBF, O5M) and named places into :class:`OSMData`.

**One reading path for every format.**  XML (plain, ``.bz2``, ``.gz``) goes
straight to osmnx (:func:`osmnx.graph_from_xml`, :func:`osmnx.features_from_xml`).
osmnx cannot read PBF, so a PBF (or O5M) file is first copied object by object
with pyosmium into a temporary OSM XML file (header and ``<bounds>`` included)
and that file goes through the very same code.  The results are therefore
identical for the same data in either format (the tests check it); the cost is
one extra XML file on disk, which is small next to osmnx's in-memory parse.

All frames are in EPSG:4326 (longitude, latitude in degrees).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import geopandas as gpd

from .._errors import InputError
from ._buildings import _read_buildings, empty_buildings, empty_residential_areas
from ._clip import ClipReport, repair_clipped, scan_clipped
from ._common import Progress, _reporter
from ._features import _read_features
from .graph import Bounds, _read_network

#: File name endings read directly as OSM XML by osmnx.
XML_SUFFIXES = (".osm", ".xml", ".osm.bz2", ".xml.bz2", ".osm.gz", ".xml.gz")
#: File name endings converted to XML with pyosmium first.
CONVERTED_SUFFIXES = (".pbf", ".o5m", ".o5m.bz2", ".o5m.gz")


@dataclass
class OSMData:
    """What :func:`read_osm` returns; all GeoDataFrames are in EPSG:4326.

    Attributes
    ----------
    nodes : GeoDataFrame
        ``node_idx`` (0..n-1, in OSM id order), ``osm_id``, Point geometry.
    edges : GeoDataFrame
        Undirected walking network, one row per street segment: ``u``, ``v``
        (``node_idx``, ``u != v``, geometry runs from ``u`` to ``v``),
        ``length_m`` (metres), ``road_class``, ``osm_way_id``, LineString geometry.
    facilities, shelters : GeoDataFrame
        ``source_id`` (``osm:node/1``, ``osm:way/2``, ``osm:relation/3``)
        and the fields of the ``facilities`` / ``shelters`` layers (areas in m²).
    bounds : tuple
        ``(minx, miny, maxx, maxy)`` of the extract, in degrees.
    stats : dict
        Counts of the reading steps (see :func:`read_osm`).
    buildings, residential_areas : GeoDataFrame
        ``source_id`` and the fields of the ``buildings`` / ``residential_areas``
        layers (heights in metres); empty unless read (see :mod:`._buildings`).
    """

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    bounds: Bounds
    stats: dict[str, Any] = field(default_factory=dict)
    buildings: gpd.GeoDataFrame = field(default_factory=empty_buildings)
    residential_areas: gpd.GeoDataFrame = field(default_factory=empty_residential_areas)


def _kind(path: Path) -> str:
    """``"xml"`` (read by osmnx) or ``"convert"`` (to XML with pyosmium first), from the file name."""
    name = path.name.lower()
    if name.endswith(XML_SUFFIXES):
        return "xml"
    if name.endswith(CONVERTED_SUFFIXES):
        return "convert"
    raise InputError(
        f"unsupported OSM file {path.name!r}: use .osm, .osm.bz2, .osm.gz or .osm.pbf",
        f"不支持的 OSM 文件 {path.name!r}：请使用 .osm、.osm.bz2、.osm.gz 或 .osm.pbf 格式",
        path=str(path),
    )


def _unreadable(path: Path, exc: Exception) -> InputError:
    """The :class:`InputError` for an OSM file pyosmium cannot read."""
    return InputError(
        f"cannot read OSM file {path.name!r}: {exc}",
        f"无法读取 OSM 文件 {path.name!r}：{exc}",
        path=str(path),
    )


def read_bounds(path: str | Path) -> Bounds:
    """``(minx, miny, maxx, maxy)`` of an OSM file, in degrees (EPSG:4326).

    From the header (``<bounds>`` of XML, the header box of PBF) when
    present, else the extent of all nodes of the file.

    Raises
    ------
    InputError
        The file cannot be read or has no nodes.
    """
    import osmium

    path = Path(path)
    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
        try:
            box_ = reader.header().box()
        finally:
            reader.close()
    except RuntimeError as exc:
        raise _unreadable(path, exc) from exc
    if box_.valid():
        return (box_.bottom_left.lon, box_.bottom_left.lat, box_.top_right.lon, box_.top_right.lat)
    minx = miny = math.inf
    maxx = maxy = -math.inf
    for node in osmium.FileProcessor(str(path), osmium.osm.NODE):
        loc = cast("osmium.osm.Node", node).location
        if loc.valid():
            minx, maxx = min(minx, loc.lon), max(maxx, loc.lon)
            miny, maxy = min(miny, loc.lat), max(maxy, loc.lat)
    if not math.isfinite(minx):
        raise InputError(
            f"OSM file {path.name!r} has no nodes",
            f"OSM 文件 {path.name!r} 中没有节点",
            path=str(path),
        )
    return (minx, miny, maxx, maxy)


def copy_osm_file(src: Path, dst: Path) -> None:
    """Copy every object and the header of ``src`` into ``dst``; formats from the file names (PBF, XML, O5M...)."""
    import osmium

    reader = osmium.io.Reader(str(src), osmium.osm.osm_entity_bits.NOTHING)
    try:
        header = reader.header()
    finally:
        reader.close()
    writer = osmium.SimpleWriter(str(dst), header=header, overwrite=True)
    try:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    finally:
        writer.close()


def _readable_copy(path: Path, kind: str, tmp_xml: Path, report) -> tuple[Path, ClipReport]:
    """The XML file osmnx reads: ``path`` itself, or a copy in ``tmp_xml`` (PBF/O5M converted; ways of an extract
    cut by a box or polygon split where their nodes are missing, see :mod:`._clip`)."""
    try:
        clip = scan_clipped(path)
        if clip.needs_repair:
            report("repair", 0.05)
            return tmp_xml, repair_clipped(path, tmp_xml)
        if kind == "convert":
            report("convert", 0.05)
            copy_osm_file(path, tmp_xml)
            return tmp_xml, clip
    except RuntimeError as exc:
        raise _unreadable(path, exc) from exc
    return path, clip


def read_osm(
    path: str | Path,
    *,
    clip_to_bounds: bool = True,
    largest_component: bool = True,
    progress: Progress | None = None,
) -> OSMData:
    """Read an OSM extract into a walking network, facilities, shelters, buildings and residential areas.

    Parameters
    ----------
    path : str or Path
        ``.osm`` / ``.xml`` (optionally ``.bz2`` or ``.gz``), ``.osm.pbf``
        or ``.o5m``.
    clip_to_bounds : bool
        Keep only network nodes inside the extract's bounds (and facilities
        and shelters that intersect them).  API exports contain whole ways
        that run beyond the requested box; this drops those outer parts.
    largest_component : bool
        Keep only the largest connected part of the walking network.
    progress : callable, optional
        Called as ``progress(stage, fraction)`` with ``fraction`` in [0, 1].

    Returns
    -------
    OSMData
        Frames in EPSG:4326.  ``stats`` has: ``format``, ``osm_nodes``,
        ``ways_read`` (highway ways), ``ways_kept`` (ways with an edge in the
        result), ``dropped_by_filter`` and ``dropped_by_reason``,
        ``loops_split`` (closed loops and free-standing rings cut, in the
        whole file), ``split_nodes`` (network nodes that come from such
        cuts), ``nodes_clipped``, ``components_removed``,
        ``nodes_removed_by_component``, ``nodes``, ``edges``,
        ``edges_by_class``, ``features_read``, ``facilities``,
        ``facilities_by_category``, ``facility_duplicates_dropped``,
        ``shelters``, ``unmapped_features``, ``buildings``, ``buildings_by_use``,
        ``building_points_skipped``, ``residential_areas``,
        ``residential_areas_by_kind``; for an extract cut by a box or
        polygon ``clip_ways_cut``, ``clip_missing_node_refs``,
        ``clip_way_parts_dropped`` and ``clip_relations_incomplete``
        (:class:`~geo_service.core.osm._clip.ClipReport`).

    Raises
    ------
    InputError
        The file is missing, of an unknown format, or cannot be parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"OSM file not found: {path}", f"找不到 OSM 文件：{path}", path=str(path))
    kind = _kind(path)
    report = _reporter(progress)
    report("bounds", 0.0)
    bounds = read_bounds(path)
    with tempfile.TemporaryDirectory(prefix="geo_service_osm_") as tmp:
        xml_path, clip = _readable_copy(path, kind, Path(tmp) / "extract.osm", report)
        fmt = "xml" if kind == "xml" else ("o5m" if ".o5m" in path.name.lower() else "pbf")
        stats: dict[str, Any] = {"format": fmt, **clip.as_stats()}
        nodes, edges = _read_network(xml_path, bounds, clip_to_bounds, largest_component, stats, report)
        report("features", 0.8)
        facilities, shelters = _read_features(xml_path, bounds, clip_to_bounds, stats)
        report("buildings", 0.9)
        buildings, areas = _read_buildings(xml_path, bounds, clip_to_bounds, stats)
    report("done", 1.0)
    return OSMData(nodes, edges, facilities, shelters, bounds, stats, buildings, areas)


def read_osm_place(place: str, *, largest_component: bool = True, progress: Progress | None = None) -> OSMData:
    """Download the walking network, facilities and buildings of a named place (needs network access).

    The place is geocoded with osmnx (Nominatim) and its polygon queried from
    the Overpass API; the result goes through the same filter, simplification,
    clipping and tag mapping as :func:`read_osm`.

    Parameters
    ----------
    place : str
        A place name Nominatim knows, e.g. ``"海淀区, 北京市"``.
    largest_component : bool
        Keep only the largest connected part of the walking network.
    progress : callable, optional
        Called as ``progress(stage, fraction)`` with ``fraction`` in [0, 1].

    Returns
    -------
    OSMData
        Frames in EPSG:4326; ``bounds`` (degrees) of the place's polygon;
        ``stats`` as for :func:`read_osm`, ``format`` being ``"overpass"``.

    Raises
    ------
    InputError
        The place cannot be geocoded or the services cannot be reached.
    """
    import osmnx as ox

    report = _reporter(progress)
    report("geocode", 0.0)
    try:
        polygon = ox.geocode_to_gdf(place).geometry.union_all()
    except Exception as exc:  # requests errors, Nominatim "no result"
        raise InputError(
            f"cannot geocode {place!r} (network access to Nominatim needed): {exc}",
            f"无法查询地名 {place!r}（需要联网访问 Nominatim）：{exc}；离线时请使用 OSM 文件导入",
            place=place,
        ) from exc
    minx, miny, maxx, maxy = (float(v) for v in polygon.bounds)
    bounds = (minx, miny, maxx, maxy)
    stats: dict[str, Any] = {"format": "overpass", "place": place}
    try:
        nodes, edges = _read_network(
            None,
            bounds,
            True,
            largest_component,
            stats,
            report,
            load_graph=lambda ox_: ox_.graph_from_polygon(
                polygon, network_type="all", simplify=False, retain_all=True, truncate_by_edge=True
            ),
        )
        facilities, shelters = _read_features(
            None, bounds, True, stats, load_features=lambda ox_, tags: ox_.features_from_polygon(polygon, tags)
        )
        buildings, areas = _read_buildings(
            None, bounds, True, stats, load_features=lambda ox_, tags: ox_.features_from_polygon(polygon, tags)
        )
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"cannot download OSM data for {place!r}: {exc}",
            f"无法下载 {place!r} 的 OSM 数据（需要联网）：{exc}",
            place=place,
        ) from exc
    report("done", 1.0)
    return OSMData(nodes, edges, facilities, shelters, bounds, stats, buildings, areas)
