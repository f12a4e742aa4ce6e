"""The network file: a :class:`~geo_service.core.network.WalkNetwork`'s arrays and derived adjacency in one ``.npz``.

Units: metres. CRS: the arrays are in the network's metric CRS, saved as WKT. Knows neither the store nor the
cache (:mod:`.cache` decides where the file lives and when it is stale).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pyproj
from scipy import sparse

from .graph import EdgeAttributes

if TYPE_CHECKING:
    from ._walk import WalkNetwork

FORMAT_VERSION = 4
"""Bumped whenever the arrays saved change; a file of another version is rebuilt."""

_W = TypeVar("_W", bound="WalkNetwork")


def save_npz(net: WalkNetwork, path: str | Path) -> Path:
    """Write the arrays (metric CRS, metres) and the derived adjacency to one ``.npz`` file (atomic rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    csr = net.csr
    pair_keys, pair_edge = net._pair_index()
    attrs = net.edge_attrs
    extra: dict[str, np.ndarray] = (
        {}
        if attrs is None
        else {
            "attr_steps": attrs.steps,
            "attr_kerb": attrs.kerb,
            "attr_name_idx": attrs.name_idx,
            "attr_names": np.asarray(attrs.names, dtype=str),
            "attr_node_elev_m": attrs.node_elev_m,
        }
    )
    np.savez(
        tmp,
        format_version=np.array(FORMAT_VERSION),
        node_xy=net.node_xy,
        edge_u=net.edge_u,
        edge_v=net.edge_v,
        edge_length_m=net.edge_length_m,
        edge_class=net.edge_class,
        edge_coords=net.edge_coords,
        edge_offsets=net.edge_offsets,
        crs=np.array(net.crs.to_wkt()),
        name=np.array(net.name),
        network_id=np.array(-1 if net.network_id is None else net.network_id),
        version=np.array(net.version),
        # the derived adjacency too, so a reload does not rebuild it
        node_ids=net.node_ids if net.node_ids is not None else np.arange(net.n_nodes),
        csr_data=csr.data,
        csr_indices=csr.indices,
        csr_indptr=csr.indptr,
        pair_keys=pair_keys,
        pair_edge=pair_edge,
        **extra,  # type: ignore[arg-type]
    )
    tmp.replace(path)
    return path


def load_npz(path: str | Path, cls: type[_W]) -> _W:
    """A network of class ``cls`` read from a file written by :func:`save_npz`.

    Raises
    ------
    ValueError
        The file was written by another format version.
    """
    with np.load(Path(path), allow_pickle=False) as z:
        if int(z["format_version"]) != FORMAT_VERSION:
            raise ValueError("network cache format changed")
        nid = int(z["network_id"])
        n = len(z["node_xy"])
        csr = sparse.csr_matrix((z["csr_data"], z["csr_indices"], z["csr_indptr"]), shape=(n, n))
        attrs = None
        if "attr_steps" in z.files:
            attrs = EdgeAttributes(
                z["attr_steps"], z["attr_kerb"], z["attr_name_idx"], z["attr_names"], z["attr_node_elev_m"]
            )
        net = cls(
            node_xy=z["node_xy"],
            edge_u=z["edge_u"],
            edge_v=z["edge_v"],
            edge_length_m=z["edge_length_m"],
            edge_class=z["edge_class"],
            edge_coords=z["edge_coords"],
            edge_offsets=z["edge_offsets"],
            crs=pyproj.CRS.from_wkt(str(z["crs"])),
            name=str(z["name"]),
            network_id=None if nid < 0 else nid,
            version=str(z["version"]),
            node_ids=z["node_ids"],
            edge_attrs=attrs,
        )
        net._csr, net._pair_keys, net._pair_edge = csr, z["pair_keys"], z["pair_edge"]
        return net
