"""Loading whole datasets into the store: the synthetic sample city and OSM extracts.

Each load is one transaction: a failure leaves the database as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .importer import ImportOptions
from .layers import LAYERS
from .storage import Store

Progress = Callable[[str, float], None]


@dataclass
class LoadSummary:
    """What a dataset load wrote: features per layer, the network, and notes (Chinese) on what was left out."""

    counts: dict[str, int]
    network_id: int | None
    network_nodes: int
    network_edges: int
    notes_zh: tuple[str, ...] = ()

    def line_zh(self, what: str) -> str:
        parts = "，".join(f"{LAYERS[k].label_zh} {v}" for k, v in self.counts.items() if k in LAYERS)
        return f"{what}：{parts}；步行网络 {self.network_nodes} 个节点、{self.network_edges} 条路段"


def load_sample_city(
    store: Store, *, scale: float = 1.0, seed: int = 0, progress: Progress | None = None
) -> LoadSummary:
    """Generate the synthetic sample city and write it, replacing earlier sample data.

    Every layer goes through the same validation as a file import.  The
    dataset metadata is marked ``synthetic``.
    """
    from .sample_city import LAYER_NAMES, generate_sample_city

    layers = [name for name in LAYER_NAMES if name != "communities"]  # communities go into the plan below

    city = generate_sample_city(
        scale=scale, seed=seed, progress=(lambda stage, f: progress(f"生成：{stage}", f * 0.4)) if progress else None
    )
    counts: dict[str, int] = {}
    with store.transaction() as conn:
        for i, layer in enumerate(layers):
            frame = getattr(city, layer)
            if progress:
                progress(f"写入：{LAYERS[layer].label_zh}", 0.4 + 0.4 * i / len(layers))
            store.delete_layer(layer, conn=conn)
            _write(store, conn, layer, frame)
            counts[layer] = len(frame)
        plan_id = store.get_or_create_plan(
            conn, city.plan_name, status="adopted", description="示例城市的现状社区划分（合成数据）"
        )
        store.delete_layer("communities", conn=conn, plan_id=plan_id)
        _write(store, conn, "communities", city.communities, plan_id=plan_id)
        counts["communities"] = len(city.communities)
        if progress:
            progress("写入：步行网络", 0.85)
        nid = store.write_network(
            "sample_city",
            "sample_city",
            city.network_nodes,
            city.network_edges,
            metric_epsg=_epsg_code(city.metadata.get("metric_crs")),
            conn=conn,
        )
        store.set_metadata({"dataset": city.metadata, "synthetic": True}, conn=conn)
    if progress:
        progress("完成", 1.0)
    return LoadSummary(counts, nid, len(city.network_nodes), len(city.network_edges))


def _epsg_code(crs) -> int | None:
    """``EPSG:4544``, ``4544`` or a pyproj CRS to the integer code."""
    if crs is None:
        return None
    from pyproj import CRS

    return CRS.from_user_input(crs).to_epsg()


def _write(store, conn, layer, frame, plan_id=None):
    """Validate like an import (any problem aborts the transaction), then upsert."""
    from ._errors import ImportValidationError
    from .importer import validate

    spec = LAYERS[layer]
    checked, report = validate(frame, spec, ImportOptions(id_column="source_id"))
    if not report.ok:
        raise ImportValidationError(report)
    store.upsert_layer(layer, checked, plan_id=plan_id, conn=conn)


def load_osm(
    store: Store,
    path: str | Path,
    *,
    name: str | None = None,
    clip_to_bounds: bool = True,
    largest_component: bool = True,
    progress: Progress | None = None,
) -> LoadSummary:
    """Build the walking network, facilities, shelters, buildings and residential areas from an extract; store them."""
    from .osm import read_osm

    path = Path(path)
    reading = (lambda stage, f: progress(f"读取 OSM：{stage}", 0.5 * f)) if progress else None
    data = read_osm(path, clip_to_bounds=clip_to_bounds, largest_component=largest_component, progress=reading)
    return store_osm(store, data, name=name or path.name.split(".")[0], progress=progress)


#: The layers an OSM import writes besides the walking network (fields of :class:`~geo_service.core.osm.OSMData`).
OSM_LAYERS = ("facilities", "shelters", "buildings", "residential_areas")


def store_osm(store: Store, data, *, name: str, progress: Progress | None = None) -> LoadSummary:
    """Write an :class:`~geo_service.core.osm.OSMData` in one transaction: the walking network and the features of
    :data:`OSM_LAYERS` (upserted by ``source_id``); ``counts`` has the features read per layer."""
    from .crs import metric_crs_for

    counts = {}
    metric = metric_crs_for(data.nodes).to_epsg() if len(data.nodes) else None
    with store.transaction() as conn:
        if progress:
            progress("写入步行网络", 0.5)
        nid = store.write_network(name, "osm", data.nodes, data.edges, metric_epsg=metric, conn=conn)
        for layer in OSM_LAYERS:
            frame = getattr(data, layer)
            if len(frame):
                _write(store, conn, layer, frame)
            counts[layer] = len(frame)
    if progress:
        progress("完成", 1.0)
    return LoadSummary(counts, nid, len(data.nodes), len(data.edges), osm_notes_zh(data.stats))


def osm_notes_zh(stats: dict) -> tuple[str, ...]:
    """What an OSM import dropped or ignored, for the summary (from :func:`~geo_service.core.osm.read_osm`'s stats)."""
    notes = []
    if stats.get("clip_ways_cut"):
        notes.append(
            f"文件为按范围裁剪的提取：{stats['clip_ways_cut']} 条路径引用了文件中没有的 "
            f"{stats['clip_missing_node_refs']} 个节点，已在缺失处截断"
            + (f"，丢弃不足两个节点的 {stats['clip_way_parts_dropped']} 段" if stats["clip_way_parts_dropped"] else "")
        )
    if stats.get("clip_relations_incomplete"):
        notes.append(f"{stats['clip_relations_incomplete']} 个关系（多边形等）有成员不在文件中，缺失部分未计入")
    return tuple(notes)
