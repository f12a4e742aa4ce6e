"""Coordinate helpers shared by routes and service areas: pieces of edges, paths, CRS transforms.

Units: metres.  CRS: the network's metric CRS unless a function says EPSG:4326.
"""

from __future__ import annotations

import bisect

import geopandas as gpd
import numpy as np
import pyproj
import shapely

# inputs up to this many geometries are projected with a cached transformer, no GeoSeries
SMALL_INPUT = 64


def edge_piece(coords: np.ndarray, f0: float, f1: float) -> np.ndarray:
    """Coordinates (metric CRS, ``(k, 2)``) along one edge from fraction ``f0`` to ``f1`` (either direction).

    ``coords`` are the edge's vertices.  Street edges have a handful of vertices: plain Python
    over lists is several times faster here than numpy calls (routes of ``/nearest`` are built
    from these on every request).
    """
    seg = np.hypot(*np.diff(coords, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1]
    if total == 0:
        return coords[:1]
    a, b = sorted((f0 * total, f1 * total))
    cl, cs = cum.tolist(), coords.tolist()
    out = [_interp(cs, cl, a), *(c for c, v in zip(cs, cl) if a < v < b), _interp(cs, cl, b)]
    return np.array(out if f0 <= f1 else out[::-1])


def _interp(coords: list, cum: list, d: float) -> list[float]:
    """The point at distance ``d`` (m) along a polyline (``coords`` and cumulative lengths ``cum`` as lists)."""
    i = min(max(bisect.bisect_right(cum, d) - 1, 0), len(cum) - 2)
    seg = cum[i + 1] - cum[i]
    f = 0.0 if seg == 0 else (d - cum[i]) / seg
    (ax, ay), (bx, by) = coords[i], coords[i + 1]
    return [ax + f * (bx - ax), ay + f * (by - ay)]


def hop_coords(
    edge_coords: np.ndarray, edge_offsets: np.ndarray, edge_u: np.ndarray, hops: np.ndarray, edges: np.ndarray
) -> list[np.ndarray]:
    """Vertices (metric CRS) of each edge of a path, each oriented to start at its hop's start node."""
    out = []
    for hop, ed in zip(hops.tolist(), edges.tolist()):
        c = edge_coords[edge_offsets[ed] : edge_offsets[ed + 1]]
        out.append(c if edge_u[ed] == hop else c[::-1])
    return out


def route_coords(parts: list[np.ndarray]) -> np.ndarray:
    """The vertices of one route from coordinate pieces, repeated vertices dropped (a zero-length walk keeps two)."""
    coords = np.concatenate([p for p in parts if len(p)])
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(coords, axis=0)) > 1e-9, axis=1)
    coords = coords[keep]
    if len(coords) == 1:
        coords = np.vstack([coords, coords])
    return coords


def route_line(parts: list[np.ndarray]) -> shapely.LineString:
    """One LineString (metric CRS) from coordinate pieces (see :func:`route_coords`)."""
    return shapely.linestrings(route_coords(parts))


# ----------------------------------------------------------------------------- CRS
def datum_transformer(crs: pyproj.CRS, inverse: bool) -> pyproj.Transformer:
    """lon/lat <-> metric ``crs``, as a plain projection of the metric CRS's own datum.

    ``inverse=False``: geodetic (lon, lat) to metric (m); ``True``: back.  WGS84 and CGCS2000
    agree at metre level (the service treats them as equal), and a pure projection pipeline
    is built in a millisecond, where a WGS84 -> CGCS2000 operation search costs PROJ about
    200 ms per thread.
    """
    geo = crs.geodetic_crs
    if inverse:
        return pyproj.Transformer.from_crs(crs, geo, always_xy=True)
    return pyproj.Transformer.from_crs(geo, crs, always_xy=True)


def transform_small(geoms: np.ndarray, tr: pyproj.Transformer) -> np.ndarray:
    """Apply a transformer (always_xy) to every coordinate of the geometries."""
    return shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))


def reproject(geoms: np.ndarray, src, dst) -> np.ndarray:
    """Geometries from CRS ``src`` to ``dst`` through a GeoSeries (large inputs)."""
    return np.asarray(gpd.GeoSeries(geoms, crs=src).to_crs(dst).values, dtype=object)
