"""``/nearest`` labels shared between processes through a file beside the network cache (issue 18, item 5).

- two real server processes on one SpatiaLite file: the first builds the shelter labels on its first
  ``/nearest`` and writes the file; the second answers its first ``/nearest`` from that file
  (``labels_from: shared_file``, the file untouched), with the same answer;
- a stale file (another data revision) is rebuilt and replaced; a corrupt or partial file is rebuilt,
  never an error; a marker left by a dead builder is taken over; a read-only folder still answers.
"""

from __future__ import annotations

import os
import zipfile

import httpx
import numpy as np
import pytest
import shapely
from _pg_cluster import ServiceProcess, service_env

from geo_service.core.network import KNearestLabels, WalkNetwork
from geo_service.core.network.shared_labels import load_labels, save_labels, shared_labels


# ----------------------------------------------------------------------------- two server processes
def test_a_second_process_answers_its_first_nearest_from_the_shared_file(tiny_world_dir, tmp_path):
    from _tiny_world import point_lonlat

    _, data = tiny_world_dir
    lon, lat = point_lonlat(500, -5)
    started: list[ServiceProcess] = []
    try:
        one = ServiceProcess.serve(service_env(data), tmp_path / "one.log")
        started.append(one)
        two = ServiceProcess.serve(service_env(data), tmp_path / "two.log")
        started.append(two)
        one.wait_ready()
        two.wait_ready()
        labels_dir = data / "networks" / "labels"
        assert not list(labels_dir.glob("*.npz")) if labels_dir.exists() else True
        q = {"lon": lon, "lat": lat, "category": "shelter", "k": 1}
        first = httpx.get(one.base + "/nearest", params=q, timeout=60)
        assert first.status_code == 200, first.text
        assert first.json()["labels_from"] == "built"
        files = list(labels_dir.glob("*.npz"))
        assert len(files) == 1
        stamp = files[0].stat().st_mtime_ns
        second = httpx.get(two.base + "/nearest", params=q, timeout=60)
        assert second.status_code == 200, second.text
        body = second.json()
        assert body["labels_from"] == "shared_file"  # the second process did not build
        assert files[0].stat().st_mtime_ns == stamp  # nor wrote the file again
        assert body["results"] == first.json()["results"]
        assert body["results"][0]["walk_m"] == pytest.approx(5 + 500 + 10, abs=0.5)  # on paper: see _tiny_world
    finally:
        for svc in started:
            svc.stop()


# ----------------------------------------------------------------------------- the file
def _net() -> tuple[WalkNetwork, object]:
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0], [200.0, 100.0]]) + [450_000.0, 3_445_000.0]
    u, v = np.array([0, 1, 2]), np.array([1, 2, 3])
    geoms = shapely.linestrings(np.stack([xy[u], xy[v]], axis=1))
    net = WalkNetwork._from_arrays(xy, u, v, np.array([100.0, 100.0, 100.0]), np.ones(3, dtype=np.int8), geoms, 4544)
    return net, net.snap_xy(xy[[0, 3]] + [5.0, 5.0])


class _Builds:
    def __init__(self, net, sources):
        self.net, self.sources, self.count = net, sources, 0

    def __call__(self) -> KNearestLabels:
        self.count += 1
        return KNearestLabels.build(self.net, self.sources, k_max=2, radius_m=1000.0)


def _same(a: KNearestLabels, b: KNearestLabels) -> None:
    for name in ("dist_m", "source", "pred"):
        np.testing.assert_array_equal(np.asarray(getattr(a, name)), np.asarray(getattr(b, name)))
    np.testing.assert_array_equal(a.sources.edge, b.sources.edge)


def test_built_once_then_loaded_memory_mapped(tmp_path):
    net, sources = _net()
    build = _Builds(net, sources)
    path = tmp_path / "labels" / "x.npz"
    a, origin_a = shared_labels(path, "rev1", net, build)
    b, origin_b = shared_labels(path, "rev1", net, build)
    assert (origin_a, origin_b, build.count) == ("built", "shared_file", 1)
    assert isinstance(b.dist_m, np.memmap)
    _same(a, b)
    assert not list(path.parent.glob("*.tmp")) and not path.with_name(path.name + ".lock").exists()


def test_a_stale_file_is_rebuilt_and_replaced(tmp_path):
    net, sources = _net()
    build = _Builds(net, sources)
    path = tmp_path / "x.npz"
    shared_labels(path, "rev1", net, build)
    labels, origin = shared_labels(path, "rev2", net, build)  # the layer changed
    assert (origin, build.count) == ("built", 2)
    assert load_labels(path, "rev1", net) is None and load_labels(path, "rev2", net) is not None
    assert shared_labels(path, "rev2", net, build)[1] == "shared_file"


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "out_of_range"])
def test_a_corrupt_or_partial_file_is_rebuilt(tmp_path, damage):
    net, sources = _net()
    build = _Builds(net, sources)
    path = tmp_path / "x.npz"
    good, _ = shared_labels(path, "rev1", net, build)
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(raw)))
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a whole file whose values cannot be labels of these sources
        bad = KNearestLabels(net, good.sources, good.radius_m, good.dist_m, good.source + 7, good.pred)
        save_labels(bad, path, "rev1")
    assert load_labels(path, "rev1", net) is None
    labels, origin = shared_labels(path, "rev1", net, build)
    assert (origin, build.count) == ("built", 2)
    _same(labels, good)
    with zipfile.ZipFile(path) as z:  # the file was replaced by a whole one
        assert z.testzip() is None


def test_a_dead_builders_marker_is_taken_over_and_a_busy_one_waited_for(tmp_path):
    net, sources = _net()
    build = _Builds(net, sources)
    path = tmp_path / "x.npz"
    lock = path.with_name(path.name + ".lock")
    lock.write_text("12345")
    os.utime(lock, (0, 0))  # from 1970: its builder is long gone
    assert shared_labels(path, "rev1", net, build, stale_lock_s=60)[1] == "built"
    # a fresh marker whose builder never finishes: after the wait this process builds itself
    lock.write_text("12345")
    labels, origin = shared_labels(path, "rev2", net, build, wait_s=0.3)
    assert (origin, build.count) == ("built", 2) and load_labels(path, "rev2", net) is not None
    lock.unlink()


def test_no_place_to_write_still_answers(tmp_path):
    """The labels folder cannot be made (a file is in the way, as a read-only data dir): built, answered."""
    net, sources = _net()
    build = _Builds(net, sources)
    blocker = tmp_path / "networks"
    blocker.write_text("not a folder")
    labels, origin = shared_labels(blocker / "labels" / "x.npz", "rev1", net, build, wait_s=5)
    assert origin == "built" and labels.k_max == 2 and build.count == 1
