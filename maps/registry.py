"""The maps the service offers, how to build them and how to render them as one HTML page.

Add a map by writing a builder ``(store, *, settings, tiles_base, **options) -> folium.Map`` and a
:class:`MapDef` in :data:`MAPS`; ``available(store)`` says (in Chinese) why a map cannot be drawn yet, e.g.
when its analysis has not been run.

Imports go one way: this module imports the map modules (inside the builders, so that listing the maps loads
none of them); no map module imports this one. A builder that needs an option-dependent check (the audit map
without an adopted plan) asks its module for the reason and raises :class:`MapUnavailable` here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from geo_service.core._errors import GeoServiceError, NotFoundError
from geo_service.core.settings import Settings

from . import assets


class MapUnavailable(GeoServiceError):
    """The map's analysis has no stored run yet."""

    http_status = 409


@dataclass(frozen=True)
class MapDef:
    name: str
    title_zh: str
    description_zh: str
    build: Callable
    available: Callable  # store -> None when drawable, else a Chinese reason


def _always(_store) -> None:
    return None


def _coverage_available(store) -> str | None:
    if store.latest_analysis("coverage") is None:
        return "尚无生活圈覆盖分析结果（coverage），请先运行覆盖分析"
    return None


def _plan_available(store) -> str | None:
    from .plan import _available

    return _available(store)


def _build_plan(store, **kw):
    from .plan import plan_map

    return plan_map(store, **kw)


def _build_facilities(store, **kw):
    from .facilities import facilities_map

    return facilities_map(store, **kw)


def _build_coverage(store, **kw):
    from .coverage import coverage_map

    return coverage_map(store, **kw)


def _audit_available(store) -> str | None:
    from .audit import _available

    return _available(store)


def _build_audit(store, **kw):
    from .audit import audit_map, no_plan_reason

    reason = no_plan_reason(store, kw.get("run_id"), kw.get("plan"))
    if reason:
        raise MapUnavailable("no adopted community plan to audit", reason, map="audit")
    return audit_map(store, **kw)


MAPS: dict[str, MapDef] = {
    "facilities": MapDef(
        "facilities",
        "社区服务设施与应急避难场所",
        "工作人员用：按类别显示全部设施和避难场所",
        _build_facilities,
        _always,
    ),
    "coverage": MapDef(
        "coverage",
        "生活圈覆盖",
        "按类别显示居住单元步行距离、服务范围、短板和社区完整生活圈达标率",
        _build_coverage,
        _coverage_available,
    ),
    "plan": MapDef(
        "plan",
        "社区划分方案",
        "社区按户数偏离区间着色，弹窗显示方案评估的全部指标，标出违反规则的社区（?plan=方案编号或名称）",
        _build_plan,
        _plan_available,
    ),
    "audit": MapDef(
        "audit",
        "设施与避难场所审计",
        "审计图：社区按问题数着色，办公与服务用房缺口、避难安置、用地风险、预留地块和新建项目配建"
        "（第十八条；?plan=方案编号或名称，?run=审计运行编号）",
        _build_audit,
        _audit_available,
    ),
}


def get_map(name: str) -> MapDef:
    try:
        return MAPS[name]
    except KeyError:
        raise NotFoundError(
            f"no map {name!r}; maps: {', '.join(MAPS)}",
            f"没有名为 {name!r} 的地图；可用：{', '.join(MAPS)}",
            map=name,
            known_maps=list(MAPS),
        ) from None


def build_map(name: str, store, *, settings: Settings | None = None, tiles_base: str = "", **options):
    spec = get_map(name)
    reason = spec.available(store)
    if reason:
        raise MapUnavailable(f"map {name} cannot be drawn yet: no stored analysis", reason, map=name)
    return spec.build(store, settings=settings, tiles_base=tiles_base, **options)


def render_map(
    name: str,
    store,
    *,
    settings: Settings | None = None,
    inline: bool = False,
    tiles_base: str = "",
    static_url: str = "/static",
    **options,
) -> str:
    """The map as one HTML page: assets from ``static_url`` (served) or embedded (``inline``, single file)."""
    m = build_map(name, store, settings=settings, tiles_base=tiles_base, **options)
    return assets.render_page(m, f"map {name}", static_url=static_url, inline=inline)
