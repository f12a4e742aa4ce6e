"""Which column of an office file is which field: Chinese headers, synonyms, Shapefile truncation.

The one table of header synonyms lives here (:data:`SYNONYMS`).  A file column is matched to a layer field by,
in this order: the explicit map (``--map`` / ``map``), the field's English name, its Chinese label
(:attr:`FieldSpec.label_zh`, with or without the unit, ``*`` or a note in brackets), a synonym of the field, and
last the Shapefile (DBF) truncation of a name, label or synonym to 10 bytes in UTF-8 or GBK
(``避难场所类`` for 避难场所类别) when it fits exactly one field.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .layers import FieldSpec, LayerSpec

# Field name -> further Chinese (or English) headers for it, beyond its Chinese label.  A synonym names the field in
# every layer that has a field of that name; one layer can have a field by another name for the same word
# (``类型``: ``category`` of facilities, ``unit_type`` of population units), which is why the lookup is per layer.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("名称", "名字", "设施名称", "场所名称", "小区名称", "单位名称", "项目名称", "道路名称", "社区名称"),
    "category": ("类别", "类型", "设施类型", "设施类别", "分类", "种类"),
    "shelter_class": ("类别", "类型", "场所类别", "场所类型", "避难场所类型", "等级"),
    "barrier_type": ("类别", "类型"),
    "road_class": ("等级", "类别", "类型"),
    "unit_type": ("类型", "类别"),
    "kind": ("类别", "类型"),
    "use": ("类型", "建筑用途"),
    "status": ("现状/规划", "建设状态", "建设情况"),
    "address": ("地址", "详细地址", "位置", "所在地址"),
    "floor_area_m2": ("建筑面积", "建筑规模"),
    "land_area_m2": ("占地面积", "用地面积", "占地"),
    "area_m2": ("面积", "用地面积", "占地面积"),
    "capacity": ("容量", "规模", "服务人数", "床位数", "学位数"),
    "capacity_persons": ("容纳人数", "可容纳人数", "避难人数"),
    "effective_area_m2": ("有效面积", "有效避难面积", "避难面积"),
    "residents": ("常住人口", "人口", "人口数", "居住人口", "常住人口数"),
    "households": ("户数", "住户数", "总户数", "家庭户数"),
    "residents_60plus": ("60岁以上人口", "60岁及以上", "老年人口"),
    "residents_0_6": ("0-6岁", "0～6岁人口", "学龄前儿童"),
    "floors": ("层数", "楼层数", "地上层数"),
    "level": ("层级", "级别", "行政级别"),
    "code": ("代码", "编码", "区划代码", "行政区划代码", "统计用区划代码"),
    "parent_code": ("上级代码", "上级区划代码", "上级编码"),
    "street_code": ("街道代码", "所属街道代码", "所属街道"),
    "land_use_code": ("用地代码", "用地分类代码", "地类代码", "用地用海代码"),
    "planned_use": ("规划用途", "用途"),
    "planned_households": ("规划户数", "户数"),
    "opening_hours": ("开放时间", "营业时间"),
    "has_fixed_office": ("固定办公场所", "有无固定办公场所"),
    "community_workers": ("社区工作者", "社区工作者人数", "工作人员"),
    "community_workers_available": ("可配备社区工作者", "社区工作者"),
    "unit_source_id": ("所属小区编号", "小区编号", "所属人口单元编号"),
}

DBF_NAME_BYTES = 10
_BRACKETS = re.compile(r"[（(\[【][^）)\]】]*[）)\]】]")


def normalize(header: object) -> str:
    """A header as compared: NFKC (full-width to half-width), no brackets (units, notes), no ``*``, no spaces,
    lower case.  ``建筑面积（m²）``, ``建筑面积(㎡)`` and ``*建筑面积`` all give ``建筑面积``."""
    text = unicodedata.normalize("NFKC", str(header))
    text = _BRACKETS.sub("", text)
    return re.sub(r"[\s*＊:：/]+", "", text).lower()


def _truncations(text: str) -> set[str]:
    """``text`` cut to the 10 bytes of a DBF field name, in UTF-8 and in GBK (a cut character dropped)."""
    out = set()
    for enc in ("utf-8", "gbk"):
        try:
            raw = text.encode(enc)
        except UnicodeEncodeError:
            continue
        if len(raw) > DBF_NAME_BYTES:
            out.add(raw[:DBF_NAME_BYTES].decode(enc, errors="ignore"))
    return out


def candidates(f: FieldSpec) -> list[tuple[int, str]]:
    """(rank, header) of a field; a lower rank wins: 0 the name, 1 the label, 2 a synonym."""
    out = [(0, f.name), (1, f.label_zh)]
    out += [(2, s) for s in SYNONYMS.get(f.name, ())]
    return out


@dataclass
class HeaderMatch:
    """How the columns of one file map to one layer."""

    rename: dict[str, str] = field(default_factory=dict)  # file column -> field
    truncated: dict[str, str] = field(default_factory=dict)  # file column -> field, matched as a DBF truncation
    unused: list[str] = field(default_factory=list)  # file columns no field took

    def column_of(self, field_name: str) -> str | None:
        return next((c for c, f in self.rename.items() if f == field_name), None)


def match_headers(columns, spec: LayerSpec, explicit: dict[str, str] | None = None) -> HeaderMatch:
    """Map file ``columns`` to the fields of ``spec``.

    ``explicit`` is ``{field: column}`` (already checked).  A field takes at most one column and a column at most
    one field: the best rank wins; between two columns of the same rank the first in the file.
    """
    explicit = explicit or {}
    out = HeaderMatch(rename={col: name for name, col in explicit.items()})
    taken_fields = set(explicit)
    free = [str(c) for c in columns if str(c) not in out.rename]
    norm = {c: normalize(c) for c in free}
    best: dict[str, tuple[int, int, str]] = {}  # field -> (rank, position, column)
    for f in spec.fields:
        if f.name in taken_fields:
            continue
        keys = {normalize(h): rank for rank, h in reversed(candidates(f))}
        for pos, c in enumerate(free):
            rank = keys.get(norm[c])
            if rank is None and c == f.name[:DBF_NAME_BYTES] and len(f.name) > DBF_NAME_BYTES:
                rank = 3  # an English name cut by the DBF format
            if rank is not None and (f.name not in best or (rank, pos) < best[f.name][:2]):
                best[f.name] = (rank, pos, c)
    # a column wanted by several fields goes to the best rank (then the field declared first)
    for name, (_rank, _pos, c) in sorted(best.items(), key=lambda kv: kv[1][:2]):
        if c not in out.rename and name not in taken_fields:
            out.rename[c] = name
            taken_fields.add(name)
    # DBF truncation: a column that is the 10-byte cut of exactly one remaining field's headers
    for c in free:
        if c in out.rename:
            continue
        stripped = c.rstrip("\ufffd?")
        hits = {
            f.name
            for f in spec.fields
            if f.name not in taken_fields
            and any(stripped and stripped in _truncations(h) for _rank, h in candidates(f))
        }
        if len(hits) == 1:
            (name,) = hits
            out.rename[c] = name
            out.truncated[c] = name
            taken_fields.add(name)
    out.unused = [c for c in free if c not in out.rename]
    return out


def header_of(f: FieldSpec) -> str:
    """The header of a field in templates and XLSX exports: the Chinese label with its unit."""
    return f"{f.label_zh}（{f.unit}）" if f.unit else f.label_zh
