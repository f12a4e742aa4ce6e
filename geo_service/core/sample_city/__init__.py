"""A deterministic synthetic sample city (德阳示例城区，合成数据，非真实).

:func:`generate_sample_city` builds every data layer of the service for a
made-up city centred on central Deyang (about 104.40 E, 31.13 N): a county
split into about 11 streets (街道), about 2,000 residential compounds with about
600,000 residents on 20 km² (a dense central district), an existing
(deliberately uneven) community plan, facilities, emergency shelters, plan
parcels, new developments, road centre lines, a river and a railway, and a
walking network.  All figures are synthetic; nothing describes a real place.

Facilities as a planner places them
-----------------------------------
Blocks (compounds) are 75-105 m wide, so the 300 m walk of the 5-minute life
circle reaches two blocks around a street corner.  Each community has a
service centre at the street corner reaching most of its residents (``_hubs``):
the community office, service station, health and culture stations, day care,
childcare, kindergarten, sports ground, supermarket, express station and public
toilet; about 8 % of the centres lack one of them (absent, or only planned).
Each street has its centre (street office, service, culture, health and sports
centres, elderly home) near its residents' centre; most super-blocks (between
two arterials, about 5,000 residents) have a primary school, a pocket park and
a market near their centre.  At scale 1 and 5 and seeds 0-4 about 60-70 % of
the residents have the complete 5-minute circle, 75-87 % the 10-minute and
70-82 % the 15-minute circle (``tests/test_sample_city.py``).

Deliberate gaps (``metadata["deliberate_gaps"]``, each with ``place_zh``, all
visible on the coverage map and in the audit):

* kindergartens: about one disc of 350 m per unit of scale in an outer new
  district, no kindergarten within 300 m of any of its points;
* elderly day care: the old centre (a disc of 15 % of the city radius);
* sports centre: one street has none (its far side beyond 1,000 m of the
  neighbours' centres);
* communities without a fixed office (about 10 %), whose residents reach an
  office only near a neighbour's;
* about a third of the service stations are makeshift rooms (about 250 m²)
  and some centres' day care, childcare or station stand across the street in
  the neighbouring community: communities short of service space or lacking a
  category in the audit, with work for the gap plan; some streets' fixed
  shelters hold less than 15 % of their residents;
* barriers: the river and the railway are crossed only at bridges and
  underpasses, so walking figures fall below the crow-fly ones along them.

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
