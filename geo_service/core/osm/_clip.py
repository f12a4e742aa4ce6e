"""Extracts cut by a bounding box or polygon: ways and relations that reference objects not in the file.

``osmium extract`` (simple strategy), Geofabrik and BBBike cut at the border: a way that crosses it keeps every node
reference but loses the nodes outside, and a relation keeps members that are not in the file. osmnx stops on such a
way ("Some edges missing nodes"). :func:`repair_clipped` writes a copy in which each such way is cut into its runs
of present nodes (a run of one node is dropped); relations are kept, their missing members ignored by osmnx. The
counts go into the import's statistics so that the summary says what was dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClipReport", "repair_clipped", "scan_clipped"]

# Ids given to the second and later parts of a cut way: far above any OSM way id (about 1.4e9 in 2026)
_PART_ID_BASE = 10**15


@dataclass(frozen=True)
class ClipReport:
    """What a cut extract lacks (counts of objects of the file)."""

    ways_cut: int = 0
    """Ways with at least one node reference to a node not in the file."""
    missing_node_refs: int = 0
    """Node references of those ways to nodes not in the file."""
    way_parts_dropped: int = 0
    """Pieces of cut ways left with fewer than two nodes (nothing to draw), dropped."""
    relations_incomplete: int = 0
    """Relations with members not in the file (osmnx ignores those members)."""

    @property
    def needs_repair(self) -> bool:
        """Ways reference nodes that are not in the file: osmnx cannot read it as it is."""
        return self.ways_cut > 0

    def as_stats(self) -> dict[str, int]:
        return {
            "clip_ways_cut": self.ways_cut,
            "clip_missing_node_refs": self.missing_node_refs,
            "clip_way_parts_dropped": self.way_parts_dropped,
            "clip_relations_incomplete": self.relations_incomplete,
        }


def _present_ids(path: Path):
    """Sets of the node and way ids in the file (``osmium.index.IdSet``)."""
    import osmium

    nodes, ways = osmium.index.IdSet(), osmium.index.IdSet()
    for obj in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
        (nodes if isinstance(obj, osmium.osm.Node) else ways).set(obj.id)
    return nodes, ways


def _runs(refs: list[int], present) -> list[list[int]]:
    """The maximal runs of consecutive references whose nodes are in the file."""
    runs: list[list[int]] = []
    current: list[int] = []
    for ref in refs:
        if ref in present:
            current.append(ref)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _member_present(member, nodes, ways) -> bool:
    if member.type == "n":
        return member.ref in nodes
    if member.type == "w":
        return member.ref in ways
    return True  # relations of relations: osmnx reads none of them


def _incomplete(relation, nodes, ways) -> bool:
    """A member of ``relation`` is not in the file."""
    return any(not _member_present(m, nodes, ways) for m in relation.members)


def scan_clipped(path: str | Path) -> ClipReport:
    """Count what ``path`` references but does not contain (one read of the file with pyosmium)."""
    import osmium

    path = Path(path)
    nodes, ways = _present_ids(path)
    ways_cut = missing = relations = 0
    for obj in osmium.FileProcessor(str(path), osmium.osm.WAY | osmium.osm.RELATION):
        if isinstance(obj, osmium.osm.Way):
            absent = sum(1 for n in obj.nodes if n.ref not in nodes)
            ways_cut += int(absent > 0)
            missing += absent
        elif isinstance(obj, osmium.osm.Relation) and _incomplete(obj, nodes, ways):
            relations += 1
    return ClipReport(ways_cut, missing, 0, relations)


def repair_clipped(src: str | Path, dst: str | Path) -> ClipReport:
    """Write ``src`` to ``dst`` (format from the name, e.g. ``.osm``) with every cut way split.

    A way whose nodes are all in the file is copied as it is; a cut way becomes one way per run of two or more
    present nodes (the first keeps the way's id, the others get ids above 10^15, all keep the tags). Nodes,
    relations and the header are copied unchanged: osmnx ignores the members of a relation that are not in the
    file, and the relations with such members are counted.
    """
    import osmium

    src, dst = Path(src), Path(dst)
    nodes, ways = _present_ids(src)
    reader = osmium.io.Reader(str(src), osmium.osm.osm_entity_bits.NOTHING)
    try:
        header = reader.header()
    finally:
        reader.close()
    counts = {"cut": 0, "missing": 0, "dropped": 0, "relations": 0}
    writer = osmium.SimpleWriter(str(dst), header=header, overwrite=True)
    try:
        for obj in osmium.FileProcessor(str(src)):
            if isinstance(obj, osmium.osm.Way):
                _write_way(writer, obj, nodes, counts)
                continue
            if isinstance(obj, osmium.osm.Relation) and _incomplete(obj, nodes, ways):
                counts["relations"] += 1
            writer.add(obj)
    finally:
        writer.close()
    return ClipReport(counts["cut"], counts["missing"], counts["dropped"], counts["relations"])


def _write_way(writer, way, nodes, counts: dict[str, int]) -> None:
    refs = [n.ref for n in way.nodes]
    runs = _runs(refs, nodes)
    if len(runs) == 1 and len(runs[0]) == len(refs):
        writer.add(way)
        return
    counts["cut"] += 1
    counts["missing"] += len(refs) - sum(len(r) for r in runs)
    kept = [r for r in runs if len(r) >= 2]
    counts["dropped"] += len(runs) - len(kept)
    for k, run in enumerate(kept):
        new_id = way.id if k == 0 else _PART_ID_BASE + way.id * 100 + k
        writer.add(way.replace(id=new_id, nodes=run))
