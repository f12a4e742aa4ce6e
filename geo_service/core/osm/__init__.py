"""Walking network, facilities, shelters and buildings from an OpenStreetMap extract.

:func:`read_osm` reads an OSM extract (``.osm``/``.xml`` XML, optionally
``.bz2``/``.gz`` compressed, or ``.osm.pbf``/``.o5m``) and returns an
:class:`OSMData` with, in EPSG:4326 (longitude, latitude in degrees):

* ``nodes`` and ``edges``: the undirected walking network (columns of the
  ``network_nodes`` / ``network_edges`` layers, without ``network_id``, which
  the store assigns; ``length_m`` in metres);
* ``facilities`` and ``shelters``: OSM features mapped to the vocabularies of
  :mod:`geo_service.core.vocab` (columns of the ``facilities`` / ``shelters``
  layers plus ``source_id`` such as ``"osm:way/456"``; areas in m²);
* ``buildings`` and ``residential_areas``: ``building=*`` footprints with
  floors, height (m) and use, and ``landuse=residential`` / named
  ``place=neighbourhood`` polygons (columns of those layers plus ``source_id``);
* ``bounds`` and ``stats``.

Modules
-------
:mod:`.read`
    File formats, pyosmium conversion, bounds, :func:`read_osm` and
    :func:`read_osm_place` (Nominatim/Overpass).
:mod:`.tags`
    Tags -> walking filter, road class, facility category, shelter class.
:mod:`.graph`
    The walking network pipeline (filter, simplify, clip, component, frames).
``_features``, ``_buildings``, ``_facility_rules``, ``_tagvalues``, ``_common``
    Internals: feature frames, building and residential area frames, the
    facility rule table, tag value parsing, shared helpers.
"""

from __future__ import annotations

from ._buildings import BUILDING_COLUMNS, RESIDENTIAL_AREA_COLUMNS, building_use, residential_kind
from ._common import CRS
from ._features import FACILITY_COLUMNS, SHELTER_COLUMNS
from .graph import EDGE_COLUMNS, NODE_COLUMNS
from .read import CONVERTED_SUFFIXES, XML_SUFFIXES, OSMData, copy_osm_file, read_bounds, read_osm, read_osm_place
from .tags import FEATURE_KEYS, ROAD_CLASS_BY_HIGHWAY, facility_category, road_class, shelter_class, walk_exclusion

__all__ = [
    "OSMData",
    "read_osm",
    "read_osm_place",
    "read_bounds",
    "copy_osm_file",
    "walk_exclusion",
    "road_class",
    "facility_category",
    "shelter_class",
    "ROAD_CLASS_BY_HIGHWAY",
    "FEATURE_KEYS",
    "XML_SUFFIXES",
    "CONVERTED_SUFFIXES",
    "CRS",
    "NODE_COLUMNS",
    "EDGE_COLUMNS",
    "FACILITY_COLUMNS",
    "SHELTER_COLUMNS",
    "BUILDING_COLUMNS",
    "RESIDENTIAL_AREA_COLUMNS",
    "building_use",
    "residential_kind",
]
