"""Walking network, facilities and shelters from an OpenStreetMap extract.

:func:`read_osm` reads an OSM extract (``.osm``/``.xml`` XML, optionally
``.bz2``/``.gz`` compressed, or ``.osm.pbf``/``.o5m``) and returns an
:class:`OSMData` with, in EPSG:4326:

* ``nodes`` and ``edges``: the undirected walking network (columns of the
  ``network_nodes`` / ``network_edges`` layers, without ``network_id``, which
  the store assigns);
* ``facilities`` and ``shelters``: OSM features mapped to the vocabularies of
  :mod:`geo_service.core.vocab` (columns of the ``facilities`` / ``shelters``
  layers plus ``source_id`` such as ``"osm:way/456"``);
* ``bounds`` and ``stats``.

Design
------
**One reading path for every format.**  XML (plain, ``.bz2``, ``.gz``) goes
straight to osmnx (:func:`osmnx.graph_from_xml`, :func:`osmnx.features_from_xml`).
osmnx cannot read PBF, so a PBF (or O5M) file is first copied object by object
with pyosmium into a temporary OSM XML file (header and ``<bounds>`` included)
and that file goes through the very same code.  The results are therefore
identical for the same data in either format (the tests check it); the cost is
one extra XML file on disk, which is small next to osmnx's in-memory parse.

**Network pipeline** (the order follows :func:`osmnx.graph_from_polygon`):

1. unsimplified, bidirectional graph of the whole file (``retain_all``);
2. walking filter on the OSM way tags (:func:`walk_exclusion`), isolated
   nodes removed;
3. topological simplification (:func:`osmnx.simplify_graph`) with
   ``edge_attrs_differ=["osmid", "road_class"]``: nodes are intersections,
   dead ends and the points where one OSM way ends and another begins, so
   every edge is the geometry of exactly *one* OSM way between two nodes and
   carries one ``osm_way_id`` and one ``road_class``.  Simplifying *before*
   clipping keeps the true intersection/dead-end status of nodes near the
   border (no artificial dead ends at the bounding box);
4. clipping to the extract's bounds (:func:`osmnx.truncate.truncate_graph_bbox`:
   nodes outside are dropped with their edges, so a street segment that
   crosses the border is dropped whole, from its last node inside; an edge
   between two inside nodes keeps its full geometry even where it bulges
   outside);
5. largest weakly connected component (optional);
6. undirected graph (:func:`osmnx.convert.to_undirected`: a two-way street is
   one edge; parallel edges remain only when their geometries differ).

Closed loops (a way that returns to its start with no junction on the way,
or a free-standing ring) would become self-loops, which routing cannot use
and which the ``u != v`` rule of the edge layer forbids.  They are split at
the OSM node halfway along the loop, which becomes a network node, so the
loop is kept as two edges with different geometries.

Edge length ``length_m`` is osmnx's great-circle length (metres) summed over
the way's segments.

**Walking filter** (:func:`walk_exclusion`): a way is kept when its
``highway`` value is a known walkable type (see :data:`ROAD_CLASS_BY_HIGHWAY`);
``motorway*`` and ``trunk*`` only with ``foot=yes/designated/permissive``;
``construction``, ``proposed``, ``abandoned``, ``platform``, ``raceway``,
``bus_guideway``, ``escape`` (and other non-street values) are dropped, and so
are ways with ``access=private/no`` (unless ``foot=yes/designated/permissive``),
``foot=no`` or ``service=private``.  Walkable areas (``highway=pedestrian`` +
``area=yes``, squares) are kept as their outline, which keeps the paths that
end on a square connected (walking round the edge rather than across).

**Facilities** (:func:`facility_category`) and **shelters**
(:func:`shelter_class`): see those functions for the tag rules.  General
hospitals (``amenity=hospital``) are *not* community facilities and are
dropped, unless their name shows a community health centre
(``社区卫生服务中心``/``卫生院`` -> ``health_center``; ``社区卫生服务站`` ->
``health_station``).  Shelters come only from explicit emergency tagging
(``emergency=assembly_point`` and the designated-evacuation-shelter tags);
``amenity=shelter`` (weather shelters) and ``emergency=yes`` (a hospital's
emergency department) are not shelters.  A point facility lying inside a
polygon facility of the same category is a duplicate (the same place mapped
twice) and is dropped.
"""

from __future__ import annotations

import math
import re
import tempfile
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from pyproj import Geod
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from ._errors import InputError
from .layers import FACILITIES, SHELTERS

__all__ = [
    "OSMData",
    "read_osm",
    "read_bounds",
    "walk_exclusion",
    "road_class",
    "facility_category",
    "shelter_class",
    "ROAD_CLASS_BY_HIGHWAY",
    "XML_SUFFIXES",
    "CONVERTED_SUFFIXES",
]

CRS = "EPSG:4326"
_GEOD = Geod(ellps="WGS84")

#: File name endings read directly as OSM XML by osmnx.
XML_SUFFIXES = (".osm", ".xml", ".osm.bz2", ".xml.bz2", ".osm.gz", ".xml.gz")
#: File name endings converted to XML with pyosmium first.
CONVERTED_SUFFIXES = (".pbf", ".o5m", ".o5m.bz2", ".o5m.gz")

# --------------------------------------------------------------------------
# Walking filter and road classes
# --------------------------------------------------------------------------

_ARTERIAL = (
    "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link",
    "tertiary", "tertiary_link", "motorway", "motorway_link",
)  # fmt: skip
_LOCAL = ("residential", "unclassified", "living_street", "service", "road", "busway")
_PATH = (
    "footway", "path", "pedestrian", "steps", "cycleway", "track", "corridor",
    "bridleway", "sidewalk", "elevator",
)  # fmt: skip

#: OSM ``highway`` value -> road class of :data:`geo_service.core.vocab.ROAD_CLASSES`
#: (before the ``crossing`` override of :func:`road_class`).
ROAD_CLASS_BY_HIGHWAY: dict[str, str] = {
    **{h: "arterial" for h in _ARTERIAL},
    **{h: "local" for h in _LOCAL},
    **{h: "path" for h in _PATH},
    "crossing": "crossing",
}

_EXCLUDED_HIGHWAY = {
    "construction", "proposed", "abandoned", "platform", "raceway", "bus_guideway",
    "escape", "planned", "razed", "disused", "no", "dismantled", "demolished",
}  # fmt: skip
_FOOT_OK = {"yes", "designated", "permissive"}
_WAY_TAGS = (
    "highway", "access", "foot", "service", "area", "bridge", "tunnel", "footway",
    "cycleway", "path", "name", "layer",
)  # fmt: skip


def _first(value: Any) -> str | None:
    """The first of ``;``-separated values (OSM multi-values), stripped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
        if value is None:
            return None
    text = str(value).split(";")[0].strip()
    return text or None


def walk_exclusion(tags: Mapping[str, Any]) -> str | None:
    """Why a way is not part of the walking network, or None when it is.

    ``tags`` are the way's OSM tags.  The returned reason is a short code
    (``"not_highway"``, ``"motorway_trunk"``, ``"excluded_highway"``,
    ``"unknown_highway"``, ``"access"``, ``"foot_no"``, ``"service_private"``)
    used in :attr:`OSMData.stats`.
    """
    highway = _first(tags.get("highway"))
    if highway is None:
        return "not_highway"
    foot = _first(tags.get("foot"))
    if highway.startswith(("motorway", "trunk")) and highway in ROAD_CLASS_BY_HIGHWAY:
        if foot not in _FOOT_OK:
            return "motorway_trunk"
    elif highway in _EXCLUDED_HIGHWAY:
        return "excluded_highway"
    elif highway not in ROAD_CLASS_BY_HIGHWAY:
        return "unknown_highway"
    if foot == "no":
        return "foot_no"
    if _first(tags.get("access")) in {"private", "no"} and foot not in _FOOT_OK:
        return "access"
    if _first(tags.get("service")) == "private":
        return "service_private"
    return None


def road_class(tags: Mapping[str, Any]) -> str:
    """Road class (:data:`geo_service.core.vocab.ROAD_CLASSES`) of a walkable way.

    ``crossing`` for bridges (``bridge`` other than ``no``/``boardwalk``),
    tunnels/underpasses (``tunnel`` other than ``no``/``building_passage``/
    ``culvert``) and marked crossings (``footway``/``cycleway``/``path`` =
    ``crossing``, ``highway=crossing``); otherwise by ``highway``:
    ``arterial`` (trunk/primary/secondary/tertiary and links), ``local``
    (residential, unclassified, living_street, service, road) or ``path``
    (footway, path, pedestrian, steps, cycleway, track, corridor, bridleway).
    """
    highway = _first(tags.get("highway")) or ""
    bridge = _first(tags.get("bridge"))
    tunnel = _first(tags.get("tunnel"))
    if (
        (bridge is not None and bridge not in {"no", "boardwalk"})
        or (tunnel is not None and tunnel not in {"no", "building_passage", "culvert"})
        or highway == "crossing"
        or any(_first(tags.get(k)) == "crossing" for k in ("footway", "cycleway", "path"))
    ):
        return "crossing"
    return ROAD_CLASS_BY_HIGHWAY.get(highway, "local")


# --------------------------------------------------------------------------
# Facilities and shelters
# --------------------------------------------------------------------------

#: OSM keys whose features are considered for facilities and shelters.
FEATURE_KEYS = (
    "amenity", "shop", "leisure", "healthcare", "social_facility", "office", "emergency",
    "emergency:social_facility", "evacuation_centre", "emergency:shelter_area",
)  # fmt: skip

_NAME_KEYS = ("name:zh", "name:zh-Hans", "name")
_ALL_NAME_KEYS = ("name:zh", "name:zh-Hans", "name", "official_name", "name:en", "short_name")


def _values(tags: Mapping[str, Any], key: str) -> set[str]:
    v = tags.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return set()
    return {p.strip() for p in str(v).split(";") if p.strip()}


def _text(tags: Mapping[str, Any], key: str) -> str | None:
    v = tags.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    text = str(v).strip()
    return text or None


_RE_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _name(tags: Mapping[str, Any]) -> str | None:
    """``name:zh`` (or ``name:zh-Hans``, ``name``): the first that is written in
    Chinese characters (``name:zh`` sometimes holds an English name), else the
    first present."""
    texts = [t for k in _NAME_KEYS if (t := _text(tags, k)) is not None]
    for text in texts:
        if _RE_CJK.search(text):
            return text
    return texts[0] if texts else None


def _names(tags: Mapping[str, Any]) -> str:
    """All name variants, joined, for keyword matching."""
    return " ".join(t for k in _ALL_NAME_KEYS if (t := _text(tags, k)) is not None)


_RE_KINDERGARTEN = re.compile(r"幼儿园|幼稚园|kindergarten", re.I)
_RE_NURSERY = re.compile(r"托儿所|托育|早教|nursery|daycare|day care", re.I)
_RE_PRIMARY = re.compile(r"小学|附小|primary|elementary", re.I)
_RE_MIDDLE = re.compile(
    r"中学|初中|附中|[一二三四五六七八九十零〇\d]+中(?:$|[\s（(分校])|middle|junior high|secondary", re.I
)
_RE_NOT_K12 = re.compile(
    r"培训|驾校|驾驶|职业|技校|技工|中专|大学|学院|艺术学校|舞蹈|美术|琴行|university|college", re.I
)
_RE_HEALTH_CENTER = re.compile(r"社区卫生服务中心|卫生服务中心|卫生院")
_RE_HEALTH_STATION = re.compile(r"社区卫生服务站|卫生服务站|卫生室|卫生站")
_RE_ELDERLY_HOME = re.compile(r"养老院|敬老院|老年公寓|养老中心|养老公寓|护理院|福利院|颐养|nursing home", re.I)
_RE_ELDERLY_DAY = re.compile(r"日间照料|托老|养老驿站|老年驿站|养老服务站|老年活动", re.I)
_RE_CANTEEN = re.compile(r"助餐|老年食堂|社区食堂|长者食堂|幸福食堂")
_RE_COMMUNITY_OFFICE = re.compile(r"居委会|居民委员会|村委会|村民委员会|社区")
_RE_STREET_OFFICE = re.compile(r"街道办事处|街道办|街道|乡人民政府|镇人民政府|乡政府|镇政府|subdistrict", re.I)
_RE_HIGHER_GOV = re.compile(r"[省市区县]人民政府|[省市区县]政府|人民代表大会|政协")
_RE_SERVICE_CENTER = re.compile(r"社区服务中心|党群服务中心|便民服务中心")
_RE_CULTURE_CENTER = re.compile(r"文化活动中心|文化中心|文化馆|文化艺术中心")
_RE_CULTURE_STATION = re.compile(r"文化站|文化活动站|文化活动室|图书室|书屋")
_RE_EXPRESS = re.compile(r"快递|菜鸟驿站|丰巢|近邻宝|妈妈驿站|兔喜|邮政")
_RE_MARKET = re.compile(r"菜市场|农贸市场|菜场")

_HIGHER_TOWNHALL = {"city", "county", "district", "municipality", "province", "regional", "state", "national"}


def facility_category(tags: Mapping[str, Any]) -> str | None:
    """Facility category (:data:`geo_service.core.vocab.FACILITY_CATEGORIES`) of an
    OSM feature, or None when it is not a community facility.

    Rules (first match wins; names are matched on ``name:zh``, ``name`` and
    the other name variants):

    * ``amenity=kindergarten`` -> ``kindergarten`` (``nursery`` when the name
      says 托儿所/托育); ``amenity=childcare`` -> ``nursery``;
    * ``amenity=school`` -> by name (幼儿园 -> ``kindergarten``, 小学/附小 ->
      ``primary_school``, 中学/初中/附中/"五中" -> ``middle_school``), else by
      ``isced:level``/``school`` tags; training, vocational and art schools
      and universities are dropped; otherwise ``primary_school``;
    * ``amenity=clinic/doctors``, ``healthcare=clinic/doctor/centre`` ->
      ``health_station`` (``health_center`` for ``healthcare=centre`` or a
      name 社区卫生服务中心/卫生院); ``amenity=hospital`` -> only when the name
      is that of a community health centre/station, else dropped;
    * social facilities: ``nursing_home``/``assisted_living`` (or
      ``amenity=nursing_home``, 养老院/敬老院 names) -> ``elderly_home``;
      ``day_care`` or ``social_facility:for=senior`` (日间照料/托老) ->
      ``elderly_day_care``; child day care -> ``nursery``; meal services for
      seniors (助餐/老年食堂) -> ``canteen``;
    * ``amenity=community_centre`` -> ``community_service_station``
      (社区服务中心/党群服务中心 -> ``community_service_center``, 文化活动中心
      -> ``culture_center``, 文化站 -> ``culture_station``);
    * ``amenity=townhall`` -> ``street_office``; ``community_office`` when
      ``townhall:type=community/village`` or the name says 社区/居委会/村委会;
      city/county/district governments are dropped; ``office=government``
      only by those names;
    * ``amenity=marketplace`` -> ``market``; ``shop=supermarket`` ->
      ``supermarket``; ``shop=convenience`` -> ``convenience_store``;
      ``amenity=pharmacy`` -> ``pharmacy``; ``amenity=toilets`` (not
      private/customers) -> ``public_toilet``; ``amenity=post_office/
      parcel_locker`` (and parcel lockers by name) -> ``express_station``;
      ``amenity=library/arts_centre`` -> ``culture_station`` (文化馆/文化中心
      -> ``culture_center``);
    * ``leisure=park`` -> ``residential_park``; ``leisure=pitch/
      fitness_station/track`` -> ``sports_ground``; ``leisure=sports_centre/
      stadium`` -> ``sports_center``.
    """
    amenity = _values(tags, "amenity")
    shop = _values(tags, "shop")
    leisure = _values(tags, "leisure")
    healthcare = _values(tags, "healthcare")
    sf = _values(tags, "social_facility")
    sf_for = _values(tags, "social_facility:for")
    names = _names(tags)

    # education and child care
    if "kindergarten" in amenity:
        return "nursery" if _RE_NURSERY.search(names) and not _RE_KINDERGARTEN.search(names) else "kindergarten"
    if "childcare" in amenity:
        return "kindergarten" if _RE_KINDERGARTEN.search(names) else "nursery"
    if "school" in amenity:
        if _RE_KINDERGARTEN.search(names):
            return "kindergarten"
        if _RE_PRIMARY.search(names):
            return "primary_school"
        if _RE_MIDDLE.search(names):
            return "middle_school"
        if _RE_NOT_K12.search(names):
            return None
        isced = _values(tags, "isced:level") | _values(tags, "school")
        if isced & {"0", "kindergarten"}:
            return "kindergarten"
        if isced & {"2", "3", "secondary", "middle", "junior_high", "high"} and not isced & {"1", "primary"}:
            return "middle_school"
        return "primary_school"

    # health
    if amenity & {"clinic", "doctors"} or healthcare & {"clinic", "doctor", "centre"}:
        if "centre" in healthcare or _RE_HEALTH_CENTER.search(names):
            return "health_center"
        return "health_station"
    if "hospital" in amenity or "hospital" in healthcare:
        if _RE_HEALTH_CENTER.search(names):
            return "health_center"
        if _RE_HEALTH_STATION.search(names):
            return "health_station"
        return None

    # elderly care and social facilities
    if "social_facility" in amenity or "nursing_home" in amenity or sf:
        if "nursing_home" in amenity or sf & {"nursing_home", "assisted_living"} or _RE_ELDERLY_HOME.search(names):
            return "elderly_home"
        if sf & {"soup_kitchen", "food_bank"} or _RE_CANTEEN.search(names):
            return "canteen" if (sf_for & {"senior", "elderly"} or _RE_CANTEEN.search(names)) else None
        if "day_care" in sf:
            return "nursery" if sf_for & {"child", "children", "juvenile", "infant"} else "elderly_day_care"
        if sf_for & {"senior", "elderly"}:
            return "elderly_home" if "group_home" in sf else "elderly_day_care"
        if _RE_ELDERLY_DAY.search(names):
            return "elderly_day_care"
        return None
    if _RE_CANTEEN.search(names) and amenity & {"restaurant", "canteen", "food_court", "fast_food", "community_centre"}:
        return "canteen"

    # community services and government
    if "community_centre" in amenity:
        if _RE_CULTURE_CENTER.search(names):
            return "culture_center"
        if _RE_CULTURE_STATION.search(names):
            return "culture_station"
        if _RE_ELDERLY_DAY.search(names):
            return "elderly_day_care"
        if _RE_SERVICE_CENTER.search(names) and not re.search(r"服务站", names):
            return "community_service_center"
        if re.search(r"居委会|居民委员会", names):
            return "community_office"
        return "community_service_station"
    if "townhall" in amenity or "government" in _values(tags, "office"):
        th_type = _values(tags, "townhall:type")
        if th_type & {"community", "village"} or _RE_COMMUNITY_OFFICE.search(names):
            return "community_office"
        if _RE_STREET_OFFICE.search(names) or th_type & {"subdistrict", "town", "township"}:
            return "street_office"
        if th_type & _HIGHER_TOWNHALL or _RE_HIGHER_GOV.search(names):
            return None
        return "street_office" if "townhall" in amenity else None

    # daily shopping and services
    if "marketplace" in amenity or (_RE_MARKET.search(names) and (shop or amenity)):
        return "market"
    if "supermarket" in shop:
        return "supermarket"
    if "convenience" in shop:
        return "convenience_store"
    if "pharmacy" in amenity or "pharmacy" in healthcare:
        return "pharmacy"
    if "toilets" in amenity:
        return None if _values(tags, "access") & {"private", "no", "customers"} else "public_toilet"
    if amenity & {"post_office", "parcel_locker"} or "parcel_pickup" in _values(tags, "vending"):
        return "express_station"
    if amenity & {"post_box", "vending_machine"} and _RE_EXPRESS.search(names):
        return "express_station"
    if amenity & {"library", "arts_centre"}:
        return "culture_center" if _RE_CULTURE_CENTER.search(names) else "culture_station"

    # open space and sports
    if "park" in leisure:
        return "residential_park"
    if leisure & {"pitch", "fitness_station", "track"}:
        return "sports_ground"
    if leisure & {"sports_centre", "stadium"}:
        return "sports_center"
    return None


def shelter_class(tags: Mapping[str, Any]) -> str | None:
    """Shelter class (:data:`geo_service.core.vocab.SHELTER_CLASSES`) of an OSM
    feature, or None when it is not an emergency shelter.

    Only explicit emergency tagging counts:

    * ``emergency=assembly_point`` (a designated place to gather in an
      emergency, e.g. an earthquake; 紧急避难场所) -> ``emergency``;
    * a facility designated as an evacuation shelter where people stay
      (``emergency:social_facility=shelter``, ``evacuation_centre=yes``,
      ``emergency:shelter_area=yes``, or ``social_facility=shelter`` for
      ``displaced``/``victim`` people) -> ``fixed`` (固定避难场所).

    A name stating the class (中心避难场所 / 固定避难场所 / 紧急避难场所)
    refines it.  ``amenity=shelter`` (weather shelters, bus shelters) and
    ``emergency=yes`` (an emergency department) are not shelters;
    ``emergency=shelter`` is not an established OSM tag and is ignored.
    """
    cls = None
    if "assembly_point" in _values(tags, "emergency"):
        cls = "emergency"
    elif (
        "shelter" in _values(tags, "emergency:social_facility")
        or _values(tags, "evacuation_centre") & {"yes"}
        or _values(tags, "emergency:shelter_area") & {"yes"}
        or (
            "shelter" in _values(tags, "social_facility")
            and _values(tags, "social_facility:for") & {"displaced", "victim"}
        )
    ):
        cls = "fixed"
    if cls is None:
        return None
    names = _names(tags)
    if "中心避难场所" in names:
        return "central"
    if "固定避难场所" in names:
        return "fixed"
    if "紧急避难场所" in names:
        return "emergency"
    return cls


_ADDR_ORDER = (
    "addr:province", "addr:city", "addr:district", "addr:subdistrict", "addr:suburb",
    "addr:street", "addr:place", "addr:housenumber", "addr:housename", "addr:unit",
    "addr:floor", "addr:door",
)  # fmt: skip


def _address(tags: Mapping[str, Any]) -> str | None:
    """``addr:full`` or the ``addr:*`` parts from largest to smallest, space-joined."""
    if (full := _text(tags, "addr:full")) is not None:
        return full
    parts = [t for k in _ADDR_ORDER if (t := _text(tags, k)) is not None]
    return " ".join(parts) or None


def _int_tag(tags: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        text = _text(tags, key)
        if text is None:
            continue
        m = re.fullmatch(r"\s*~?\s*(\d+)\s*(?:人|persons?)?\s*", text)
        if m:
            return int(m.group(1))
    return None


def _float_tag(tags: Mapping[str, Any], key: str) -> float | None:
    text = _text(tags, key)
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:m2|m²|㎡|平方米|平米)?\s*", text)
    return float(m.group(1)) if m else None


def _geodesic_area(geom: BaseGeometry) -> float:
    area, _ = _GEOD.geometry_area_perimeter(geom)
    return abs(float(area))


def _feature_geometry(geom: BaseGeometry | None) -> BaseGeometry | None:
    """Point or (Multi)Polygon for the layers (lines become their midpoint)."""
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, (Point, Polygon, MultiPolygon)):
        return geom
    if geom.geom_type == "GeometryCollection":
        polys = [g for g in geom.geoms if isinstance(g, (Polygon, MultiPolygon)) and not g.is_empty]
        if polys:
            parts = [p for g in polys for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
            return parts[0] if len(parts) == 1 else MultiPolygon(parts)
    if geom.geom_type in ("LineString", "LinearRing"):
        return geom.interpolate(0.5, normalized=True)
    return geom.representative_point()


# --------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------

NODE_COLUMNS = ["node_idx", "osm_id", "geometry"]
EDGE_COLUMNS = ["u", "v", "length_m", "road_class", "osm_way_id", "geometry"]
FACILITY_COLUMNS = ["source_id", *FACILITIES.field_names, "geometry"]
SHELTER_COLUMNS = ["source_id", *SHELTERS.field_names, "geometry"]


@dataclass
class OSMData:
    """What :func:`read_osm` returns; all GeoDataFrames are in EPSG:4326.

    Attributes
    ----------
    nodes : GeoDataFrame
        ``node_idx`` (0..n-1, in OSM id order), ``osm_id``, Point geometry.
    edges : GeoDataFrame
        Undirected walking network, one row per street segment: ``u``, ``v``
        (``node_idx``, ``u != v``, geometry runs from ``u`` to ``v``),
        ``length_m``, ``road_class``, ``osm_way_id``, LineString geometry.
    facilities, shelters : GeoDataFrame
        ``source_id`` (``osm:node/1``, ``osm:way/2``, ``osm:relation/3``)
        and the fields of the ``facilities`` / ``shelters`` layers.
    bounds : tuple
        ``(minx, miny, maxx, maxy)`` of the extract.
    stats : dict
        Counts of the reading steps (see :func:`read_osm`).
    """

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    bounds: tuple[float, float, float, float]
    stats: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------

_SETTINGS_LOCK = threading.RLock()


@contextmanager
def _osmnx_way_tags():
    """Make osmnx keep the way tags the walking filter needs (restored after).

    osmnx's settings are module globals: the lock serialises readers of this
    module (other code changing ``osmnx.settings`` concurrently is not covered).
    """
    import osmnx as ox

    with _SETTINGS_LOCK:
        old = ox.settings.useful_tags_way
        ox.settings.useful_tags_way = list(dict.fromkeys([*old, *_WAY_TAGS]))
        try:
            yield ox
        finally:
            ox.settings.useful_tags_way = old


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(XML_SUFFIXES):
        return "xml"
    if name.endswith(CONVERTED_SUFFIXES):
        return "convert"
    raise InputError(
        f"unsupported OSM file {path.name!r}: use .osm, .osm.bz2, .osm.gz or .osm.pbf",
        f"不支持的 OSM 文件 {path.name!r}：请使用 .osm、.osm.bz2、.osm.gz 或 .osm.pbf 格式",
        path=str(path),
    )


def read_bounds(path: str | Path) -> tuple[float, float, float, float]:
    """``(minx, miny, maxx, maxy)`` of an OSM file.

    From the header (``<bounds>`` of XML, the header box of PBF) when
    present, else the extent of all nodes of the file.
    """
    import osmium

    path = Path(path)
    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
        try:
            box_ = reader.header().box()
        finally:
            reader.close()
    except RuntimeError as exc:
        raise InputError(
            f"cannot read OSM file {path.name!r}: {exc}",
            f"无法读取 OSM 文件 {path.name!r}：{exc}",
            path=str(path),
        ) from exc
    if box_.valid():
        return (box_.bottom_left.lon, box_.bottom_left.lat, box_.top_right.lon, box_.top_right.lat)
    minx = miny = math.inf
    maxx = maxy = -math.inf
    for node in osmium.FileProcessor(str(path), osmium.osm.NODE):
        loc = node.location
        if loc.valid():
            minx, maxx = min(minx, loc.lon), max(maxx, loc.lon)
            miny, maxy = min(miny, loc.lat), max(maxy, loc.lat)
    if not math.isfinite(minx):
        raise InputError(
            f"OSM file {path.name!r} has no nodes",
            f"OSM 文件 {path.name!r} 中没有节点",
            path=str(path),
        )
    return (minx, miny, maxx, maxy)


def copy_osm_file(src: Path, dst: Path) -> None:
    """Copy every object and the header of ``src`` into ``dst``; formats from the file names (PBF, XML, O5M...)."""
    import osmium

    reader = osmium.io.Reader(str(src), osmium.osm.osm_entity_bits.NOTHING)
    try:
        header = reader.header()
    finally:
        reader.close()
    writer = osmium.SimpleWriter(str(dst), header=header, overwrite=True)
    try:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    finally:
        writer.close()


def read_osm(
    path: str | Path,
    *,
    clip_to_bounds: bool = True,
    largest_component: bool = True,
    progress: Callable[[str, float], None] | None = None,
) -> OSMData:
    """Read an OSM extract into a walking network, facilities and shelters.

    Parameters
    ----------
    path : str or Path
        ``.osm`` / ``.xml`` (optionally ``.bz2`` or ``.gz``), ``.osm.pbf``
        or ``.o5m``.
    clip_to_bounds : bool
        Keep only network nodes inside the extract's bounds (and facilities
        and shelters that intersect them).  API exports contain whole ways
        that run beyond the requested box; this drops those outer parts.
    largest_component : bool
        Keep only the largest connected part of the walking network.
    progress : callable, optional
        Called as ``progress(stage, fraction)`` with ``fraction`` in [0, 1].

    Returns
    -------
    OSMData
        ``stats`` has: ``format``, ``osm_nodes``, ``ways_read`` (highway
        ways), ``ways_kept`` (ways with an edge in the result),
        ``dropped_by_filter`` and ``dropped_by_reason``, ``loops_split``
        (closed loops and free-standing rings cut, in the whole file),
        ``split_nodes`` (network nodes that come from such cuts),
        ``nodes_clipped``, ``components_removed``, ``nodes_removed_by_component``,
        ``nodes``, ``edges``, ``edges_by_class``, ``features_read``,
        ``facilities``, ``facilities_by_category``, ``facility_duplicates_dropped``,
        ``shelters``, ``unmapped_features``.

    Raises
    ------
    InputError
        The file is missing, of an unknown format, or cannot be parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"OSM file not found: {path}", f"找不到 OSM 文件：{path}", path=str(path))
    kind = _kind(path)

    def report(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, fraction)

    report("bounds", 0.0)
    bounds = read_bounds(path)
    with tempfile.TemporaryDirectory(prefix="geo_service_osm_") as tmp:
        xml_path = path
        if kind == "convert":
            report("convert", 0.05)
            xml_path = Path(tmp) / "extract.osm"
            try:
                copy_osm_file(path, xml_path)
            except RuntimeError as exc:
                raise InputError(
                    f"cannot read OSM file {path.name!r}: {exc}",
                    f"无法读取 OSM 文件 {path.name!r}：{exc}",
                    path=str(path),
                ) from exc
        fmt = "xml" if kind == "xml" else ("o5m" if ".o5m" in path.name.lower() else "pbf")
        stats: dict[str, Any] = {"format": fmt}
        nodes, edges = _read_network(xml_path, bounds, clip_to_bounds, largest_component, stats, report)
        report("features", 0.8)
        facilities, shelters = _read_features(xml_path, bounds, clip_to_bounds, stats)
    report("done", 1.0)
    return OSMData(nodes, edges, facilities, shelters, bounds, stats)


def read_osm_place(
    place: str, *, largest_component: bool = True, progress: Callable[[str, float], None] | None = None
) -> OSMData:
    """Download the walking network and facilities of a named place (needs network access).

    The place is geocoded with osmnx (Nominatim) and its polygon queried from
    the Overpass API; the result goes through the same filter, simplification,
    clipping and tag mapping as :func:`read_osm`.

    Raises
    ------
    InputError
        The place cannot be geocoded or the services cannot be reached.
    """
    import osmnx as ox

    def report(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, fraction)

    report("geocode", 0.0)
    try:
        polygon = ox.geocode_to_gdf(place).geometry.union_all()
    except Exception as exc:  # requests errors, Nominatim "no result"
        raise InputError(
            f"cannot geocode {place!r} (network access to Nominatim needed): {exc}",
            f"无法查询地名 {place!r}（需要联网访问 Nominatim）：{exc}；离线时请使用 OSM 文件导入",
            place=place,
        ) from exc
    bounds = tuple(float(v) for v in polygon.bounds)
    stats: dict[str, Any] = {"format": "overpass", "place": place}
    try:
        nodes, edges = _read_network(
            None,
            bounds,
            True,
            largest_component,
            stats,
            report,
            load_graph=lambda ox_: ox_.graph_from_polygon(
                polygon, network_type="all", simplify=False, retain_all=True, truncate_by_edge=True
            ),
        )
        facilities, shelters = _read_features(
            None, bounds, True, stats, load_features=lambda ox_, tags: ox_.features_from_polygon(polygon, tags)
        )
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"cannot download OSM data for {place!r}: {exc}",
            f"无法下载 {place!r} 的 OSM 数据（需要联网）：{exc}",
            place=place,
        ) from exc
    report("done", 1.0)
    return OSMData(nodes, edges, facilities, shelters, bounds, stats)


def _parse_error(path: Path, exc: Exception) -> InputError:
    return InputError(
        f"cannot parse OSM XML {path.name!r}: {exc}",
        f"无法解析 OSM XML 文件 {path.name!r}：{exc}",
        path=str(path),
    )


def _parse_errors() -> tuple[type[Exception], ...]:
    from xml.etree.ElementTree import ParseError
    from xml.sax import SAXException

    return (ParseError, SAXException, OSError, EOFError, UnicodeDecodeError)


def _read_network(
    xml_path: Path,
    bounds: tuple[float, float, float, float],
    clip: bool,
    lcc: bool,
    stats: dict[str, Any],
    report: Callable[[str, float], None],
    load_graph: Callable[[Any], nx.MultiDiGraph] | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    report("network", 0.1)
    with _osmnx_way_tags() as ox, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            if load_graph is not None:
                G = load_graph(ox)
            else:
                G = ox.graph_from_xml(xml_path, bidirectional=True, simplify=False, retain_all=True)
        except ox._errors.InsufficientResponseError:
            G = nx.MultiDiGraph(crs=CRS)
        except _parse_errors() as exc:
            raise _parse_error(xml_path, exc) from exc
    stats["osm_nodes"] = G.number_of_nodes()

    # 2. walking filter, per way
    report("filter", 0.3)
    reasons: dict[int, str | None] = {}
    classes: dict[int, str] = {}
    drop = []
    for u, v, k, d in G.edges(keys=True, data=True):
        wid = d["osmid"]
        if wid not in reasons:
            reasons[wid] = walk_exclusion(d)
            if reasons[wid] is None:
                classes[wid] = road_class(d)
        if reasons[wid] is None:
            d["road_class"] = classes[wid]
        else:
            drop.append((u, v, k))
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n, deg in G.degree() if deg == 0])
    by_reason = Counter(r for r in reasons.values() if r is not None and r != "not_highway")
    stats["ways_read"] = sum(1 for r in reasons.values() if r != "not_highway")
    stats["dropped_by_filter"] = sum(by_reason.values())
    stats["dropped_by_reason"] = dict(sorted(by_reason.items()))

    # 3. simplification (loops split at their middle node)
    report("simplify", 0.45)
    S, stats["loops_split"] = _simplify(G)

    # 4. clip
    report("clip", 0.6)
    n_before = S.number_of_nodes()
    if clip and S.number_of_nodes():
        try:
            S = ox.truncate.truncate_graph_bbox(S, bounds)
        except ValueError:  # no node inside the bounds
            S = nx.MultiDiGraph(**S.graph)
    S.remove_nodes_from([n for n, deg in S.degree() if deg == 0])
    stats["nodes_clipped"] = n_before - S.number_of_nodes()

    # 5. largest component
    n_comp = nx.number_weakly_connected_components(S) if S.number_of_nodes() else 0
    if lcc and n_comp > 1:
        n_before = S.number_of_nodes()
        S = ox.truncate.largest_component(S, strongly=False)
        stats["components_removed"] = n_comp - 1
        stats["nodes_removed_by_component"] = n_before - S.number_of_nodes()
    else:
        stats["components_removed"] = 0
        stats["nodes_removed_by_component"] = 0
    stats["components"] = 1 if (lcc and n_comp) else n_comp

    # 6. undirected
    report("undirected", 0.7)
    return _network_frames(ox, S, stats)


def _simplify(G: nx.MultiDiGraph) -> tuple[nx.MultiDiGraph, int]:
    """Simplify; self-loops and free-standing rings are split at their middle."""
    import osmnx as ox

    if G.number_of_edges() == 0:
        G.graph["simplified"] = True
        return G, 0
    differ = ["osmid", "road_class"]
    S = ox.simplify_graph(G, edge_attrs_differ=differ, track_merged=True, remove_rings=False)
    split: set[int] = set()
    loops = 0
    seen: set[frozenset] = set()
    for u, v, d in S.edges(data=True):
        if u != v or "merged_edges" not in d:
            continue
        path = [a for a, _ in d["merged_edges"]] + [d["merged_edges"][-1][1]]
        key = frozenset(path)
        if key in seen:
            continue  # the same loop in the other direction
        seen.add(key)
        if len(path) >= 3:
            split.add(path[len(path) // 2])
            loops += 1
    # free-standing rings (a closed way touching nothing) have no endpoint at
    # all: cut them at their smallest node id and the node opposite to it.
    for comp in nx.weakly_connected_components(G):
        if len(comp) < 3:
            continue
        ring = G.subgraph(comp).to_undirected(as_view=True)
        if all(len(ring[n]) == 2 for n in comp) and len({d["osmid"] for *_, d in ring.edges(data=True)}) == 1:
            start = min(comp)
            hops = nx.single_source_shortest_path_length(ring, start)
            far = max(hops.values())
            split.update({start, min(n for n, h in hops.items() if h == far)})
            loops += 1
    if not split:
        for _, _, d in S.edges(data=True):
            d.pop("merged_edges", None)
        return S, 0
    G = G.copy()
    for n in split:
        G.nodes[n]["_split"] = True
    S = ox.simplify_graph(G, node_attrs_include=["_split"], edge_attrs_differ=differ, remove_rings=False)
    return S, loops


def _network_frames(ox, S: nx.MultiDiGraph, stats: dict[str, Any]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    osm_ids = np.array(sorted(S.nodes), dtype="int64")
    idx = {int(n): i for i, n in enumerate(osm_ids)}
    nodes = gpd.GeoDataFrame(
        {
            "node_idx": np.arange(len(osm_ids), dtype="int64"),
            "osm_id": osm_ids,
        },
        geometry=gpd.points_from_xy(
            [S.nodes[n]["x"] for n in osm_ids.tolist()], [S.nodes[n]["y"] for n in osm_ids.tolist()]
        ),
        crs=CRS,
    )
    rows = []
    if S.number_of_edges():
        U = ox.convert.to_undirected(S)
        seen: set[tuple] = set()
        duplicates = 0
        for _, _, d in U.edges(data=True):
            frm, to = int(d["from"]), int(d["to"])
            geom: LineString = d["geometry"]
            way = d["osmid"]
            if isinstance(way, list):  # not expected with edge_attrs_differ=["osmid"]
                way = min(way)
            cls = d.get("road_class")
            if isinstance(cls, list):
                cls = sorted(cls)[0]
            coords = tuple(geom.coords)
            key = min(coords, coords[::-1])
            if frm == to or key in seen:
                duplicates += 1
                continue
            seen.add(key)
            rows.append((idx[frm], idx[to], float(d["length"]), cls, int(way), geom))
        stats["edges_dropped_duplicate_or_loop"] = duplicates
    else:
        stats["edges_dropped_duplicate_or_loop"] = 0
    rows.sort(key=lambda r: (min(r[0], r[1]), max(r[0], r[1]), r[4], r[2]))
    edges = gpd.GeoDataFrame(
        {
            "u": pd.array([r[0] for r in rows], dtype="int64"),
            "v": pd.array([r[1] for r in rows], dtype="int64"),
            "length_m": pd.array([r[2] for r in rows], dtype="float64"),
            "road_class": pd.Series([r[3] for r in rows], dtype=object),
            "osm_way_id": pd.array([r[4] for r in rows], dtype="int64"),
        },
        geometry=gpd.GeoSeries([r[5] for r in rows], crs=CRS),
        crs=CRS,
    )
    stats["split_nodes"] = sum(1 for n in osm_ids.tolist() if S.nodes[n].get("_split"))
    stats["nodes"] = len(nodes)
    stats["edges"] = len(edges)
    stats["ways_kept"] = int(edges["osm_way_id"].nunique())
    stats["edges_by_class"] = {c: int(n) for c, n in edges["road_class"].value_counts().sort_index().items()}
    return nodes, edges


_NUMERIC = {
    "floor_area_m2": "float64", "land_area_m2": "float64", "effective_area_m2": "float64",
    "capacity": "Int64", "capacity_persons": "Int64",
}  # fmt: skip


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> gpd.GeoDataFrame:
    """Layer frame: numeric columns typed, text columns object with None for missing."""
    data: dict[str, Any] = {}
    for col in columns:
        if col == "geometry":
            continue
        values = [r[col] for r in rows]
        if col in _NUMERIC:
            data[col] = pd.array(values, dtype=_NUMERIC[col])
        else:
            data[col] = pd.Series(values, dtype=object)
    geometry = gpd.GeoSeries([r["geometry"] for r in rows], crs=CRS)
    return gpd.GeoDataFrame(data, geometry=geometry, crs=CRS)[columns]


def _read_features(
    xml_path: Path,
    bounds: tuple[float, float, float, float],
    clip: bool,
    stats: dict[str, Any],
    load_features: Callable[[Any, dict], gpd.GeoDataFrame] | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    import osmnx as ox

    polygon = box(*bounds) if clip else None
    tags = {k: True for k in FEATURE_KEYS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            if load_features is not None:
                gdf = load_features(ox, tags)
            else:
                gdf = ox.features_from_xml(xml_path, polygon=polygon, tags=tags)
        except ox._errors.InsufficientResponseError:
            gdf = None
        except _parse_errors() as exc:
            raise _parse_error(xml_path, exc) from exc

    fac_rows: list[dict[str, Any]] = []
    shel_rows: list[dict[str, Any]] = []
    unmapped = 0
    if gdf is not None and len(gdf):
        columns = [c for c in gdf.columns if c != "geometry"]
        for (element, osm_id), values, geom in zip(
            gdf.index, gdf[columns].itertuples(index=False, name=None), gdf.geometry, strict=True
        ):
            tags = {c: v for c, v in zip(columns, values, strict=True) if isinstance(v, str)}
            geom = _feature_geometry(geom)
            if geom is None:
                unmapped += 1
                continue
            source_id = f"osm:{element}/{int(osm_id)}"
            polygonal = isinstance(geom, (Polygon, MultiPolygon))
            area = _geodesic_area(geom) if polygonal else None
            category = facility_category(tags)
            shelter = shelter_class(tags)
            if category is None and shelter is None:
                unmapped += 1
                continue
            name = _name(tags)
            address = _address(tags)
            if category is not None:
                floor_area = _float_tag(tags, "building:floor_area")
                land_area = None
                if polygonal and "building" in tags and tags["building"] != "no":
                    levels = _int_tag(tags, "building:levels")
                    if floor_area is None and levels:
                        floor_area = round(area * levels, 1)
                elif polygonal:
                    land_area = round(area, 1)
                fac_rows.append(
                    {
                        "source_id": source_id,
                        "name": name,
                        "category": category,
                        "floor_area_m2": floor_area,
                        "land_area_m2": land_area,
                        "capacity": _int_tag(tags, "capacity", "capacity:persons"),
                        "status": "existing",
                        "address": address,
                        "opening_hours": _text(tags, "opening_hours"),
                        "geometry": geom,
                        "_order": (element != "node", element, int(osm_id)),
                    }
                )
            if shelter is not None:
                shel_rows.append(
                    {
                        "source_id": source_id,
                        "name": name,
                        "shelter_class": shelter,
                        "effective_area_m2": round(area, 1) if area is not None else None,
                        "capacity_persons": _int_tag(tags, "capacity:persons", "capacity"),
                        "status": "existing",
                        "address": address,
                        "geometry": geom,
                    }
                )
    stats["features_read"] = 0 if gdf is None else len(gdf)
    stats["unmapped_features"] = unmapped

    facilities, duplicates = _facilities_frame(fac_rows)
    shelters = _frame(shel_rows, SHELTER_COLUMNS)
    stats["facility_duplicates_dropped"] = duplicates
    stats["facilities"] = len(facilities)
    stats["facilities_by_category"] = {c: int(n) for c, n in facilities["category"].value_counts().sort_index().items()}
    stats["shelters"] = len(shelters)
    return facilities, shelters


def _facilities_frame(rows: list[dict[str, Any]]) -> tuple[gpd.GeoDataFrame, int]:
    """Facilities frame; a point inside a polygon of the same category is dropped
    (the polygon takes the point's name, address and hours when it has none)."""
    if not rows:
        return _frame([], FACILITY_COLUMNS), 0
    polygons = [r for r in rows if not isinstance(r["geometry"], Point)]
    dropped = 0
    if polygons:
        from shapely import STRtree

        tree = STRtree([r["geometry"] for r in polygons])
        keep = []
        for r in rows:
            if isinstance(r["geometry"], Point):
                hits = [
                    polygons[i]
                    for i in tree.query(r["geometry"], predicate="intersects")
                    if polygons[i]["category"] == r["category"]
                ]
                if hits:
                    target = hits[0]
                    for col in ("name", "address", "opening_hours", "capacity"):
                        if target[col] is None and r[col] is not None:
                            target[col] = r[col]
                    dropped += 1
                    continue
            keep.append(r)
        rows = keep
    rows.sort(key=lambda r: r["_order"])
    return _frame(rows, FACILITY_COLUMNS), dropped
