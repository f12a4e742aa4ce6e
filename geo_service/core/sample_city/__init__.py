"""A deterministic synthetic sample city (德阳示例城区，合成数据，非真实).

:func:`generate_sample_city` builds every data layer of the service for a
made-up city centred on central Deyang (about 104.40 E, 31.13 N): a county
split into streets (街道), about 2,000 residential compounds with about
600,000 residents, an existing (deliberately uneven) community plan,
facilities, emergency shelters, plan parcels, new developments, road centre
lines, a river and a railway, and a walking network.  All figures are
synthetic; nothing describes a real place.

Construction
------------
Everything is built on a jittered, gently warped lattice in the metric CRS
CGCS2000 / 3-degree Gauss-Kruger CM 105E (EPSG:4544).  Lattice lines are the
streets (every fifth line an arterial), lattice cells are the blocks.  A
meandering river and a railway each occupy a 4-connected chain of cells, so
they separate the land cells; the walking network crosses them only on the
lattice edges kept as bridges / underpasses (``road_class == "crossing"``).
Streets are unions of arterial-bounded super-blocks grown from k-means seeds
(multi-source Dijkstra, hence contiguous); population units are the
residential cells, so units tile their street together with the
non-residential cells (parks, squares, schools, river, rail corridor, ...).
Communities are contiguous groups of whole units of one street (Dijkstra
regions on the unit adjacency graph).

Coordinates are converted to EPSG:4326 once, as coordinate arrays, and the
output geometries are built from them: neighbouring cells share identical
vertices, so the tiling is exact in both CRSs.  All per-feature work is
vectorised with numpy / shapely / scipy; Python loops only run over stages,
the river/railway bank zones, the lattice rows of the river meander, size
classes of grouped unions and counties.  ``scale`` multiplies the area and
every count (scale 500: about 1.1 million units and 5.2 million network nodes).

Layout
------
One module per stage, called in order by :func:`generate_sample_city` (``generate.py``):
``lattice`` -> ``barriers`` -> ``streets`` -> ``land_use`` -> ``population`` (units) ->
``communities`` -> ``facilities`` (with ``_facility_blocks``, ``_sites``, ``_names``) ->
``shelters`` -> ``parcels`` (plan parcels, developments) -> ``network`` -> ``roads`` ->
``buildings`` (footprints whose floor area follows the units' residents) -> ``assemble``.  Each
stage takes the frozen dataclasses of the earlier stages and its own ``numpy.random.Generator``
(``buildings`` one seeded from ``(seed, 14)``, so the other stages draw as before it existed).

Run ``python -m geo_service.core.sample_city --scale S`` to print counts, time and
peak memory.
"""

from __future__ import annotations

from ._constants import CENTER_LONLAT, LAYER_NAMES, METRIC_EPSG, PLAN_NAME
from .city import SampleCity
from .generate import generate_sample_city

__all__ = [
    "SampleCity",
    "generate_sample_city",
    "CENTER_LONLAT",
    "METRIC_EPSG",
    "PLAN_NAME",
    "LAYER_NAMES",
]
