"""The data layers of the service: one declaration per layer.

Each :class:`LayerSpec` names the table, the geometry types the layer
accepts, and its attribute fields with their types, bounds and vocabularies.
The database tables (:mod:`geo_service.core.models`), the import validation
(:mod:`geo_service.core.importer`), the export and the HTTP layer endpoints all
read this one declaration, so a field is declared once.

Geometries are stored in EPSG:4326 (lon, lat); CGCS2000 (EPSG:4490) input is
taken as equal at metre level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import vocab


@dataclass(frozen=True)
class FieldSpec:
    """One attribute of a layer.

    Parameters
    ----------
    name : str
        Column name, English snake_case (the API field name).
    kind : {"str", "int", "float", "bool", "datetime"}
        Storage and validation type.
    label_zh : str
        Chinese label for reports, legends and error messages.
    required : bool
        Whether an import must supply a non-empty value.
    min_value : float, optional
        Smallest allowed value for numeric fields (counts and areas use 0).
    max_value : float, optional
        Largest allowed value for numeric fields.
    min_exclusive : bool
        Whether ``min_value`` itself is excluded (a value must be greater than it).
    vocab : dict, optional
        Allowed codes (``code -> label``) for coded fields.
    default : object, optional
        Value used when the column is absent or empty and not required.
    pattern : str, optional
        Regular expression the value must match (for codes).
    """

    name: str
    kind: str
    label_zh: str
    required: bool = False
    min_value: float | None = None
    max_value: float | None = None
    min_exclusive: bool = False
    vocab: dict[str, str] | None = None
    default: object = None
    pattern: str | None = None
    unit: str | None = None
    # Codes of an even number of digits whose leading zero a spreadsheet dropped (0702 read as 702) get it back.
    restore_leading_zero: bool = False


@dataclass(frozen=True)
class LayerSpec:
    """One data layer (one table).

    Parameters
    ----------
    name : str
        Layer name used in the CLI and the API (``/layers/{name}``).
    label_zh : str
        Chinese name of the layer.
    geometry_types : tuple of str
        Shapely geometry type names accepted on import.  Single-part input is
        promoted to the multi-part type stored when the layer stores multi.
    storage_geometry : str
        GeoAlchemy2 geometry type of the column.
    fields : tuple of FieldSpec
        Attribute fields (beyond ``id``, ``source_id``, timestamps, ``geom``).
    importable : bool
        Whether ``geo-service import`` accepts the layer.
    per_plan : bool
        Whether features belong to a boundary plan (``plan_id`` column).
    """

    name: str
    label_zh: str
    geometry_types: tuple[str, ...]
    storage_geometry: str
    fields: tuple[FieldSpec, ...] = field(default_factory=tuple)
    importable: bool = True
    per_plan: bool = False

    @property
    def table(self) -> str:
        return self.name

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


POLYGONAL = ("Polygon", "MultiPolygon")
LINEAR = ("LineString", "MultiLineString")
ANY_FEATURE = ("Point", "MultiPoint", "Polygon", "MultiPolygon")

_NAME = FieldSpec("name", "str", "名称")
_ADDRESS = FieldSpec("address", "str", "地址")

LAYERS: dict[str, LayerSpec] = {}


def _register(spec: LayerSpec) -> LayerSpec:
    LAYERS[spec.name] = spec
    return spec


# Code of an admin area (``code`` and ``parent_code``), 2 to 32 characters, either
# - a Chinese administrative division code of 6 to 15 digits (6 county, 9 street or township, 12 community or
#   village; 13 to 15: a grid cell numbered under its community), or
# - letters and digits in groups joined by single ``-`` or ``_``, with at least one digit and at least one letter
#   or joiner: a statistical area such as ``510600-JK`` (经开区, counted inside its district), a grid cell such as
#   ``510603001001-01`` or a county's own grid code such as ``WG0103``.
# Refused: spaces, Chinese characters or other punctuation, leading, trailing or doubled joiners, all-digit codes of
# another length (a digit lost: ``51060``), spreadsheet forms such as ``5.10603E+11``, words without digits
# (``nan``, ``无``).
ADMIN_CODE_PATTERN = r"(?=.{2,32}$)(?:\d{6,15}|(?=\D*\d)(?=.*[A-Za-z_-])[0-9A-Za-z]+(?:[-_][0-9A-Za-z]+)*)"

ADMIN_AREAS = _register(
    LayerSpec(
        "admin_areas",
        "行政区划",
        POLYGONAL,
        "MULTIPOLYGON",
        (
            FieldSpec("level", "str", "层级", required=True, vocab=vocab.ADMIN_LEVELS),
            FieldSpec("code", "str", "行政区划代码", required=True, pattern=ADMIN_CODE_PATTERN),
            FieldSpec("name", "str", "名称", required=True),
            FieldSpec("parent_code", "str", "上级代码", pattern=ADMIN_CODE_PATTERN),
            FieldSpec("community_workers_available", "int", "可配备社区工作者", min_value=0, unit="人"),
        ),
    )
)

POPULATION_UNITS = _register(
    LayerSpec(
        "population_units",
        "人口单元",
        POLYGONAL,
        "MULTIPOLYGON",
        (
            _NAME,
            FieldSpec("unit_type", "str", "单元类型", vocab=vocab.UNIT_TYPES, default="compound"),
            FieldSpec("residents", "int", "常住人口", required=True, min_value=0, unit="人"),
            FieldSpec("households", "int", "户数", required=True, min_value=0, unit="户"),
            FieldSpec("residents_60plus", "int", "60岁及以上人口", min_value=0, unit="人"),
            FieldSpec("residents_0_6", "int", "0-6岁人口", min_value=0, unit="人"),
            FieldSpec("residents_0_3", "int", "0-3岁人口", min_value=0, unit="人"),
            FieldSpec("residents_3_6", "int", "3-6岁人口", min_value=0, unit="人"),
            FieldSpec("residents_6_12", "int", "6-12岁人口", min_value=0, unit="人"),
            FieldSpec("residents_80plus", "int", "80岁及以上人口", min_value=0, unit="人"),
            FieldSpec("street_code", "str", "所属街道代码"),
        ),
    )
)

COMMUNITIES = _register(
    LayerSpec(
        "communities",
        "社区",
        POLYGONAL,
        "MULTIPOLYGON",
        (
            FieldSpec("code", "str", "社区代码", required=True),
            FieldSpec("name", "str", "社区名称", required=True),
            FieldSpec("street_code", "str", "所属街道代码"),
            FieldSpec("has_fixed_office", "bool", "有固定办公场所"),
            FieldSpec("community_workers", "int", "社区工作者", min_value=0, unit="人"),
            FieldSpec("households", "int", "户数", min_value=0, unit="户"),
            FieldSpec("residents", "int", "常住人口", min_value=0, unit="人"),
        ),
        per_plan=True,
    )
)

FACILITIES = _register(
    LayerSpec(
        "facilities",
        "社区服务设施",
        ANY_FEATURE,
        "GEOMETRY",
        (
            _NAME,
            FieldSpec("category", "str", "设施类别", required=True, vocab=vocab.FACILITY_CATEGORIES),
            FieldSpec("floor_area_m2", "float", "建筑面积", min_value=0, unit="m²"),
            FieldSpec("land_area_m2", "float", "用地面积", min_value=0, unit="m²"),
            FieldSpec("capacity", "int", "服务容量", min_value=0, unit="人"),
            FieldSpec("status", "str", "状态", vocab=vocab.FACILITY_STATUS, default="existing"),
            _ADDRESS,
            FieldSpec("opening_hours", "str", "开放时间"),
            FieldSpec("functions", "str", "服务功能（设施类别，逗号分隔）"),
        ),
    )
)

SHELTERS = _register(
    LayerSpec(
        "shelters",
        "应急避难场所",
        ANY_FEATURE,
        "GEOMETRY",
        (
            _NAME,
            FieldSpec("shelter_class", "str", "避难场所类别", required=True, vocab=vocab.SHELTER_CLASSES),
            FieldSpec("effective_area_m2", "float", "有效避难面积", min_value=0, unit="m²"),
            FieldSpec("capacity_persons", "int", "容纳人数", min_value=0, unit="人"),
            FieldSpec("status", "str", "状态", vocab=vocab.FACILITY_STATUS, default="existing"),
            _ADDRESS,
        ),
    )
)

PLAN_PARCELS = _register(
    LayerSpec(
        "plan_parcels",
        "国土空间规划地块",
        POLYGONAL,
        "MULTIPOLYGON",
        (
            FieldSpec(
                "land_use_code",
                "str",
                "用地用海分类代码",
                required=True,
                pattern=r"^\d{2}(\d{2}){0,2}$",
                restore_leading_zero=True,
            ),
            FieldSpec("planned_use", "str", "规划用途"),
            FieldSpec("status", "str", "状态", vocab=vocab.PARCEL_STATUS, default="planned"),
            FieldSpec("area_m2", "float", "用地面积", min_value=0, unit="m²"),
        ),
    )
)

DEVELOPMENTS = _register(
    LayerSpec(
        "developments",
        "新建住宅项目",
        POLYGONAL,
        "MULTIPOLYGON",
        (
            _NAME,
            FieldSpec("planned_households", "int", "规划户数", required=True, min_value=0, unit="户"),
            FieldSpec("required_facility_area_m2", "float", "应配建设施面积", min_value=0, unit="m²"),
            FieldSpec("built_facility_area_m2", "float", "已配建设施面积", min_value=0, unit="m²"),
            FieldSpec("status", "str", "状态", vocab=vocab.DEVELOPMENT_STATUS, default="planned"),
            FieldSpec("handed_over_area_m2", "float", "已移交社区面积", min_value=0, unit="m²"),
            FieldSpec("handover_date", "datetime", "移交日期"),
        ),
    )
)

_FLOOR_LEVEL = FieldSpec("floor_level", "int", "所在楼层", min_value=-5, max_value=100, unit="层")
_HAS_LIFT = FieldSpec("has_lift", "bool", "有电梯")

IDLE_ASSETS = _register(
    LayerSpec(
        "idle_assets",
        "闲置资产",
        ANY_FEATURE,
        "GEOMETRY",
        (
            _NAME,
            FieldSpec("owner", "str", "产权单位", required=True),
            FieldSpec("floor_area_m2", "float", "建筑面积", required=True, min_value=0, min_exclusive=True, unit="m²"),
            _FLOOR_LEVEL,
            _HAS_LIFT,
            FieldSpec("available_from", "datetime", "可用起始日期"),
            FieldSpec("available_to", "datetime", "可用截止日期"),
            FieldSpec("condition", "str", "房屋状况", vocab=vocab.ASSET_CONDITIONS, default="ready"),
            FieldSpec("terms", "str", "提供方式", required=True, vocab=vocab.ASSET_TERMS),
            FieldSpec("rent_yuan_per_m2_year", "float", "租金", min_value=0, unit="元/m²·年"),
            FieldSpec("price_yuan", "float", "售价", min_value=0, unit="元"),
            _ADDRESS,
        ),
    )
)

SPACE_CANDIDATES = _register(
    LayerSpec(
        "space_candidates",
        "可购置租赁或置换扩建的空间",
        ANY_FEATURE,
        "GEOMETRY",
        (
            _NAME,
            FieldSpec("kind", "str", "获取方式", required=True, vocab=vocab.SPACE_CANDIDATE_KINDS),
            FieldSpec("floor_area_m2", "float", "建筑面积", required=True, min_value=0, min_exclusive=True, unit="m²"),
            FieldSpec("cost_yuan", "float", "一次性费用", min_value=0, unit="元"),
            FieldSpec("rent_yuan_per_m2_year", "float", "租金", min_value=0, unit="元/m²·年"),
            _FLOOR_LEVEL,
            _HAS_LIFT,
            FieldSpec("facility_source_id", "str", "扩建的设施编号"),
            FieldSpec("owner", "str", "产权单位"),
            _ADDRESS,
        ),
    )
)

HAZARDS = _register(
    LayerSpec(
        "hazards",
        "灾害风险区",
        ANY_FEATURE + LINEAR,
        "GEOMETRY",
        (
            _NAME,
            FieldSpec("kind", "str", "灾害类型", required=True, vocab=vocab.HAZARD_KINDS),
            FieldSpec("level", "str", "风险等级", required=True, vocab=vocab.HAZARD_LEVELS),
            FieldSpec("radius_m", "float", "影响半径", min_value=0, unit="m"),
        ),
    )
)

ROADS = _register(
    LayerSpec(
        "roads",
        "道路中心线",
        LINEAR,
        "MULTILINESTRING",
        (
            _NAME,
            FieldSpec("road_class", "str", "道路等级", required=True, vocab=vocab.ROAD_CLASSES),
        ),
    )
)

BARRIERS = _register(
    LayerSpec(
        "barriers",
        "障碍（河流、铁路）",
        LINEAR + POLYGONAL,
        "GEOMETRY",
        (
            _NAME,
            FieldSpec("barrier_type", "str", "障碍类型", required=True, vocab=vocab.BARRIER_TYPES),
        ),
    )
)

UNIT_ENTRANCES = _register(
    LayerSpec(
        "unit_entrances",
        "小区出入口",
        ("Point",),
        "POINT",
        (
            FieldSpec("unit_source_id", "str", "所属人口单元编号", required=True),
            _NAME,
        ),
    )
)

BUILDINGS = _register(
    LayerSpec(
        "buildings",
        "建筑物",
        POLYGONAL,
        "MULTIPOLYGON",
        (
            _NAME,
            FieldSpec("floors", "int", "层数", min_value=1, max_value=200, unit="层"),
            FieldSpec("height_m", "float", "高度", min_value=0, min_exclusive=True, max_value=1000, unit="米"),
            FieldSpec("use", "str", "用途", required=True, vocab=vocab.BUILDING_USES),
            FieldSpec("dwellings", "int", "套数", min_value=0, unit="套"),
            FieldSpec("households", "int", "户数", min_value=0, unit="户"),
            FieldSpec("compound_id", "str", "所属小区编号"),
        ),
    )
)

RESIDENTIAL_AREAS = _register(
    LayerSpec(
        "residential_areas",
        "住宅小区与居住用地",
        POLYGONAL,
        "MULTIPOLYGON",
        (
            _NAME,
            FieldSpec("kind", "str", "类型", required=True, vocab=vocab.RESIDENTIAL_AREA_KINDS),
            FieldSpec("households", "int", "户数", min_value=0, unit="户"),
            FieldSpec("residents", "int", "常住人口", min_value=0, unit="人"),
        ),
    )
)

NETWORK_NODES = _register(
    LayerSpec(
        "network_nodes",
        "步行网络节点",
        ("Point",),
        "POINT",
        (
            FieldSpec("network_id", "int", "网络编号", required=True),
            FieldSpec("node_idx", "int", "节点序号", required=True, min_value=0),
            FieldSpec("osm_id", "int", "OSM 节点编号"),
            FieldSpec("elevation_m", "float", "高程", unit="m"),
        ),
        importable=False,
    )
)

NETWORK_EDGES = _register(
    LayerSpec(
        "network_edges",
        "步行网络路段",
        ("LineString",),
        "LINESTRING",
        (
            FieldSpec("network_id", "int", "网络编号", required=True),
            FieldSpec("u", "int", "起点节点", required=True, min_value=0),
            FieldSpec("v", "int", "终点节点", required=True, min_value=0),
            FieldSpec("length_m", "float", "长度", required=True, min_value=0, unit="m"),
            FieldSpec("road_class", "str", "道路等级", vocab=vocab.ROAD_CLASSES),
            FieldSpec("osm_way_id", "int", "OSM 路径编号"),
            FieldSpec("name", "str", "道路名称"),
            FieldSpec("steps", "bool", "台阶"),
            FieldSpec("kerb", "str", "路缘石"),
        ),
        importable=False,
    )
)


def get_layer(name: str) -> LayerSpec:
    """Return the layer declaration, raising :class:`UnknownLayerError`."""
    from ._errors import UnknownLayerError

    try:
        return LAYERS[name]
    except KeyError:
        raise UnknownLayerError(name, sorted(LAYERS)) from None


def importable_layers() -> list[str]:
    return [name for name, spec in LAYERS.items() if spec.importable]
