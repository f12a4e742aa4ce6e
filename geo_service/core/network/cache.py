"""Store-backed loading: one :class:`~geo_service.core.network.WalkNetwork` per stored network and process.

:func:`load_network` looks in the process cache, then in the network's ``.npz`` file under
the data directory (:func:`network_cache_path`, keyed by the network's id and update
time), and only then reads the stored tables and builds (saving the file for next time).
:mod:`._npz` writes and reads that file.

This is the only module of the package that knows the store, and only through the
:class:`NetworkStore` protocol below.

Units: metres.  CRS: the saved arrays are in the network's metric CRS (saved as WKT);
the stored tables are EPSG:4326.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pyproj

from .._errors import NotFoundError
from ._walk import WalkNetwork

if TYPE_CHECKING:
    import geopandas as gpd

_CACHE: dict[tuple, WalkNetwork] = {}
_CACHE_LOCK = threading.Lock()


class _DataDirSettings(Protocol):
    @property
    def data_dir(self) -> str | os.PathLike[str]: ...


class NetworkStore(Protocol):
    """What loading a network needs of a store (``geo_service.core.storage.Store`` has it).

    Attributes
    ----------
    url
        The database URL; part of the cache keys (``str(url)``).
    settings
        Settings with ``data_dir``, under which ``networks/*.npz`` files are kept.
    """

    @property
    def url(self) -> object: ...

    @property
    def settings(self) -> _DataDirSettings: ...

    def list_networks(self) -> list[dict]:
        """Stored networks, oldest first: ``id``, ``name``, ``updated_at``, ``node_count``, ``edge_count``,
        ``metric_epsg``."""
        ...

    def read_layer(self, layer: str, *, network_id: int | None = None) -> gpd.GeoDataFrame:
        """Features of ``network_nodes`` / ``network_edges`` of one network, EPSG:4326."""
        ...


# ----------------------------------------------------------------------------- the process cache
def _pick_network(store: NetworkStore, network: int | str | None) -> dict:
    """The row of the stored network with id or name ``network`` (default the newest)."""
    nets = store.list_networks()
    if not nets:
        raise NotFoundError(
            "no walking network is stored; import OSM data or the sample city first",
            "尚未导入步行网络，请先导入 OSM 数据或示例城市",
            network=network,
        )
    if network is None:
        return nets[-1]
    for n in nets:
        if str(n["id"]) == str(network) or n["name"] == str(network):
            return n
    raise NotFoundError(
        f"no walking network {network!r}", f"没有名为或编号为 {network!r} 的步行网络", network=str(network)
    )


def pick_network(store: NetworkStore, network: int | str | None = None) -> dict:
    """The ``list_networks`` row of the stored network with id or name ``network`` (default the newest).

    Raises
    ------
    NotFoundError
        No network is stored, or none has that id or name (Chinese message).
    """
    return _pick_network(store, network)


def network_cache_path(store: NetworkStore, row: dict) -> Path:
    """The ``.npz`` file of a stored network (``row`` from ``list_networks``), stamped by its update."""
    stamp = hashlib.sha1(
        f"{store.url}|{row['id']}|{row['updated_at']}|{row['node_count']}|{row['edge_count']}".encode()
    ).hexdigest()[:12]
    return Path(store.settings.data_dir) / "networks" / f"network_{row['id']}_{stamp}.npz"


def labels_cache_path(store: NetworkStore, network_id: int | None, name: str) -> Path:
    """The shared k-nearest-labels file of ``name`` (category and profile) on stored network ``network_id``.

    Beside the network files (``networks/labels/``); one file per name, its content keyed by the data
    revision (see :mod:`.shared_labels`), so a new revision replaces it.
    """
    stamp = hashlib.sha1(f"{store.url}|{network_id}|{name}".encode()).hexdigest()[:12]
    return Path(store.settings.data_dir) / "networks" / "labels" / f"labels_{network_id}_{stamp}.npz"


def load_network(store: NetworkStore, network: int | str | None = None, *, use_cache: bool = True) -> WalkNetwork:
    """The stored walking network as a :class:`WalkNetwork`, built once and kept.

    Looks in the process cache, then in the ``.npz`` file under the data directory
    (keyed by the network's id and update time), and only then reads the tables and
    builds (saving the file for next time).  ``network``: id or name, default the newest.
    """
    row = _pick_network(store, network)
    path = network_cache_path(store, row)
    key = (str(store.url), str(path))
    if use_cache:
        with _CACHE_LOCK:
            if key in _CACHE:
                return _CACHE[key]
    net = _read_file(path) if use_cache and path.exists() else None
    if net is None:
        net = _build_from_tables(store, row, path)
    net.network_id = row["id"]
    net.name = row["name"]
    net.warm()
    if use_cache:
        with _CACHE_LOCK:
            for k in [
                k for k in _CACHE if k[0] == key[0] and k != key and k[1].rsplit("_", 1)[0] == key[1].rsplit("_", 1)[0]
            ]:
                del _CACHE[k]
            _CACHE[key] = net
    return net


def _read_file(path: Path) -> WalkNetwork | None:
    """The network saved at ``path``, None when the file is stale or broken (it is rebuilt)."""
    try:
        return WalkNetwork.load(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def _build_from_tables(store: NetworkStore, row: dict, path: Path) -> WalkNetwork:
    """Build the network of ``row`` from the stored tables and save it to ``path`` (when writable)."""
    nodes = store.read_layer("network_nodes", network_id=row["id"])
    edges = store.read_layer("network_edges", network_id=row["id"])
    metric = pyproj.CRS.from_epsg(row["metric_epsg"]) if row.get("metric_epsg") else None
    net = WalkNetwork.from_frames(nodes, edges, metric_crs=metric, name=row["name"], network_id=row["id"])
    try:
        net.save(path)
    except OSError:  # a read-only data dir: keep it in memory only
        pass
    return net


def clear_cache() -> None:
    """Forget every network kept by :func:`load_network` in this process."""
    with _CACHE_LOCK:
        _CACHE.clear()


# ----------------------------------------------------------------------------- the .npz file
