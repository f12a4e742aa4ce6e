"""The walking-network engine shared by every analysis.

A :class:`WalkNetwork` holds an undirected walking network as arrays: node
coordinates in a metric CRS chosen from the data, edges ``u``/``v`` with
lengths in metres and a road class, edge geometries (metric), and a
symmetric CSR adjacency of the shortest parallel edge between two nodes.

Points (facilities, residential units, a resident's position) are snapped
to the nearest *edge* (not node) with :meth:`WalkNetwork.snap`; the
off-network leg is part of every distance.  :meth:`WalkNetwork.nearest`
runs one multi-source Dijkstra (``scipy.sparse.csgraph``) from all the
snapped sources of a kind at once, bounded by a distance limit, giving
for every node the distance to, and the index of, the nearest source; the
route to it is read from the predecessor tree (:meth:`NearestResult.route`).

Networks are built from the stored ``network_nodes``/``network_edges``
tables (an OSM import or the sample city), or from a road-centreline layer
(:func:`edges_from_lines`, noded where lines cross or touch), and saved as
one ``.npz`` file that reloads without rebuilding (:func:`load_network`).

Modules
-------
graph
    The arrays: building from frames or line layers, Morton order, CSR adjacency.
snapping
    :class:`Snap` and the nearest-edge index.
searches
    The multi-source pass (:class:`NearestResult`), ``distances_within``, routes, service areas.
labels
    :class:`KNearestLabels`, the k nearest sources of every node (``/nearest``).
profiles
    :class:`WalkProfile` (standard, elderly, wheelchair) and the network as a profile walks it.
directions
    Turn-by-turn steps in Chinese along a route.
local
    Local subgraphs: the straight-line bound, bounded searches on the part of the network they can reach.
shared_labels
    Labels shared between processes through one file (built once per data revision, memory-mapped).
cache
    :func:`load_network` from a store, the per-process cache and the ``.npz`` file.

Units: metres; CRS: the network's metric CRS (``WalkNetwork.crs``) for all
coordinates, EPSG:4326 for inputs and outputs that say so.
"""

from __future__ import annotations

from ._walk import WalkNetwork
from .cache import NetworkStore, clear_cache, labels_cache_path, load_network, network_cache_path
from .graph import ROAD_CLASS_CODES, edges_from_lines
from .labels import KNearestLabels
from .profiles import PROFILES, WalkProfile, profile_code
from .searches import NearestResult
from .snapping import DEFAULT_MAX_SNAP_M, Snap

__all__ = [
    "DEFAULT_MAX_SNAP_M",
    "ROAD_CLASS_CODES",
    "KNearestLabels",
    "NearestResult",
    "NetworkStore",
    "PROFILES",
    "WalkProfile",
    "profile_code",
    "Snap",
    "WalkNetwork",
    "clear_cache",
    "edges_from_lines",
    "labels_cache_path",
    "load_network",
    "network_cache_path",
]
