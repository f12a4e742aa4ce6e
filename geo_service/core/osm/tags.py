"""OSM tags -> walking filter, road classes, facility categories and shelter classes.

Every function takes the tags of one OSM object as a mapping of key to value
(missing values may be absent, ``None`` or NaN; ``;``-separated multi-values
are understood) and needs no geometry, so no CRS or units are involved.

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
emergency department) are not shelters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._facility_rules import _first_rule
from ._tagvalues import _first, _names, _values

__all__ = [
    "ROAD_CLASS_BY_HIGHWAY",
    "FEATURE_KEYS",
    "walk_exclusion",
    "road_class",
    "facility_category",
    "shelter_class",
]

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
#: Way tags osmnx must keep for :func:`walk_exclusion` and :func:`road_class`.
_WAY_TAGS = (
    "highway", "access", "foot", "service", "area", "bridge", "tunnel", "footway",
    "cycleway", "path", "name", "name:zh", "layer", "kerb",
)  # fmt: skip


def walk_exclusion(tags: Mapping[str, Any]) -> str | None:
    """Why a way is not part of the walking network, or None when it is.

    Parameters
    ----------
    tags : Mapping
        The way's OSM tags.

    Returns
    -------
    str or None
        A short reason code (``"not_highway"``, ``"motorway_trunk"``,
        ``"excluded_highway"``, ``"unknown_highway"``, ``"access"``,
        ``"foot_no"``, ``"service_private"``) used in
        :attr:`geo_service.core.osm.OSMData.stats`; None for a walkable way.
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
    (residential, unclassified, living_street, service, road, and unknown
    values) or ``path`` (footway, path, pedestrian, steps, cycleway, track,
    corridor, bridleway).

    Parameters
    ----------
    tags : Mapping
        The way's OSM tags.

    Returns
    -------
    str
        ``"arterial"``, ``"local"``, ``"path"`` or ``"crossing"``.
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


def facility_category(tags: Mapping[str, Any]) -> str | None:
    """Facility category (:data:`geo_service.core.vocab.FACILITY_CATEGORIES`) of an
    OSM feature, or None when it is not a community facility.

    The rules are the ordered table ``_FACILITY_RULES`` of
    :mod:`geo_service.core.osm._facility_rules` (first match wins; names are
    matched on ``name:zh``, ``name`` and the other name variants):

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

    Parameters
    ----------
    tags : Mapping
        The feature's OSM tags.

    Returns
    -------
    str or None
        The category, or None for a feature that is not a community facility.
    """
    return _first_rule(tags)[1]


_SHELTER_BY_NAME = (("中心避难场所", "central"), ("固定避难场所", "fixed"), ("紧急避难场所", "emergency"))


def _designated_shelter(tags: Mapping[str, Any]) -> bool:
    """True for a facility designated as an evacuation shelter where people stay."""
    return bool(
        "shelter" in _values(tags, "emergency:social_facility")
        or _values(tags, "evacuation_centre") & {"yes"}
        or _values(tags, "emergency:shelter_area") & {"yes"}
        or (
            "shelter" in _values(tags, "social_facility")
            and _values(tags, "social_facility:for") & {"displaced", "victim"}
        )
    )


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

    Parameters
    ----------
    tags : Mapping
        The feature's OSM tags.

    Returns
    -------
    str or None
        ``"central"``, ``"fixed"`` or ``"emergency"``; None when not a shelter.
    """
    if "assembly_point" in _values(tags, "emergency"):
        cls = "emergency"
    elif _designated_shelter(tags):
        cls = "fixed"
    else:
        return None
    names = _names(tags)
    for phrase, named_cls in _SHELTER_BY_NAME:
        if phrase in names:
            return named_cls
    return cls
