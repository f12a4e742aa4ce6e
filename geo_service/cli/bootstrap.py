"""``geo-service bootstrap``: from raw files to first results in one command (issue 14, item 3).

Steps, each its own transaction (a failing step writes nothing; the steps before it stay written):

1. admin areas (``--areas``), then the totals are matched against them (nothing written);
2. the data: an OSM extract (``--osm``: walking network, facilities, shelters, buildings, residential areas), or
   ``--roads`` and ``--buildings`` files and a walking network built from the roads (as ``build-network``);
3. the county's own facilities / shelters (``--facilities``, ``--shelters``): they REPLACE the OSM ones (the OSM
   features of that layer are not loaded), since the same school or square under two ids would be counted twice;
4. without ``--areas``: one street-level area from the extent of the data, named after the single totals row;
5. population units from the buildings and the totals (``population.service.build_units``);
6. the community plan: ``--plan`` imported, or one proposed by delineation for every street; adopted by "bootstrap";
7. life-circle coverage (``facilities.service.current_coverage``);
8. the facilities and shelters audit (``facilities.audit_service.current_audit``).

It ends with what was ASSUMED rather than given.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import typer

from geo_service.core._errors import GeoServiceError, InputError

from ._common import DbOpt, cli_errors, console, open_store, out, pct, plain


def say(text: str) -> None:
    """A result line on stdout, verbatim."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


app = typer.Typer()

ACTOR = "bootstrap"
ONE_AREA_CODE = "000000000"  # the one assumed area when the totals row has no usable code
EXTENT_LAYERS = ("buildings", "residential_areas", "roads", "network_edges")
BLOCK_ROAD_CLASSES = ("arterial", "local")  # OSM roads that bound street blocks (paths and crossings do not)
EXTENT_MARGIN_DEG = 0.0005  # about 50 m around the data, so features on the edge fall inside


@dataclass
class Steps:
    """The steps run so far, what was assumed and what to mention; prints one line per step."""

    done: list[str] = field(default_factory=list)
    assumed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)

    @contextmanager
    def step(self, title: str) -> Iterator[list[str]]:
        """Run one step; yields a list for the step's result lines. On failure say which steps were completed."""
        lines: list[str] = []
        t = time.perf_counter()
        n = len(self.done) + 1
        try:
            yield lines
        except GeoServiceError:
            self._failed(n, title)
            raise
        except Exception as exc:  # an unexpected error of a piece below: a message, not a traceback
            self._failed(n, title)
            msg = (str(exc).splitlines() or [""])[0][:300]
            raise GeoServiceError(
                f"step {title} failed: {type(exc).__name__}: {msg}",
                f"步骤「{title}」出错（{type(exc).__name__}：{msg}），本步骤未写入数据",
            ) from exc
        head, *rest = lines or [""]
        say(f"[{n}] {title}：{head}（{time.perf_counter() - t:.1f} 秒）")
        for line in rest:
            say(f"    {line}")
        self.done.append(title)

    def _failed(self, n: int, title: str) -> None:
        console.print(f"[red]第 {n} 步「{title}」失败，本步骤的写入已全部撤销。[/red]")
        if self.done:
            plain("已完成并保留在数据库中的步骤：" + "；".join(f"{i}. {s}" for i, s in enumerate(self.done, 1)))
        else:
            plain("此前没有完成任何步骤，数据库未改变。")


@app.command("bootstrap")
def bootstrap_cmd(
    osm: Path | None = typer.Option(
        None, "--osm", help="OSM 提取文件（.osm/.osm.pbf）：路网、设施、避难场所、建筑、小区"
    ),
    roads: Path | None = typer.Option(None, "--roads", help="道路中心线文件（不用 --osm 时必给，与 --buildings 一起）"),
    buildings: Path | None = typer.Option(None, "--buildings", help="建筑轮廓文件（不用 --osm 时必给）"),
    totals: Path = typer.Option(..., "--totals", "-t", help="统计数文件（CSV/XLSX：代码/名称、常住人口，可含户数）"),
    areas: Path | None = typer.Option(
        None, "--areas", help="行政区划文件（区县/街道，带代码）；不给时统计数须只有一行，以数据范围作为该区域"
    ),
    level: str | None = typer.Option(
        None, "--level", "-l", help="统计数层级 street | district | community | grid；默认按行政区划匹配推定"
    ),
    facilities: Path | None = typer.Option(None, "--facilities", help="本地设施名单（给出时代替 OSM 设施）"),
    shelters: Path | None = typer.Option(None, "--shelters", help="本地避难场所名单（给出时代替 OSM 避难场所）"),
    plan: Path | None = typer.Option(None, "--plan", help="现状社区边界（面）；不给时自动划分并采纳"),
    database_url: str | None = DbOpt,
):
    """From raw files to first results: data, population units, plan, coverage, audit (从原始数据到首批结果)."""
    steps = Steps()
    with cli_errors():
        rows, own_levels = _check_inputs(osm, roads, buildings, totals, areas, facilities, shelters, plan, level)
        store = open_store(database_url)
        if areas is not None:
            with steps.step("导入行政区划") as lines:
                lines += _import(store, "admin_areas", areas)
            with steps.step("核对统计数") as lines:
                if not own_levels:
                    lvl = _totals_level(store, rows, level, totals.name)
                    rows = [replace(r, level=lvl) for r in rows]
                lines.append(_match_line(store, rows, totals.name))
        if osm is not None:
            _load_osm(store, steps, osm, facilities=facilities is not None, shelters=shelters is not None)
        else:
            _load_files(store, steps, roads, buildings)
            for path, zh in ((facilities, "设施"), (shelters, "避难场所")):
                if path is None:
                    steps.assumed.append(f"未提供{zh}名单，也没有 OSM 数据：{zh}图层中只有数据库原有的要素")
        for layer, path, zh in (("facilities", facilities, "设施"), ("shelters", shelters, "避难场所")):
            if path is not None:
                with steps.step(f"导入本地{zh}名单") as lines:
                    lines += _import(store, layer, path)
        if areas is None:
            with steps.step("设定统计区域（假设）") as lines:
                lines.append(_one_area(store, rows[0], totals.name, steps))
            rows = [replace(rows[0], level="street")]
        _units(store, steps, rows, totals.name)
        _plan(store, steps, plan)
        _coverage(store, steps)
        _audit(store, steps)
        _summary(steps)


def _check_inputs(osm, roads, buildings, totals, areas, facilities, shelters, plan, level) -> tuple[list, bool]:
    """Refuse bad combinations and missing files before anything is written.

    Returns the totals rows and whether their levels are given (``--level`` or a level column); if not, every row
    is marked ``street`` until the admin areas tell.
    """
    from population.params import read_totals_table

    if osm is not None and (roads is not None or buildings is not None):
        raise InputError("give --osm or --roads/--buildings", "请给出 --osm，或 --roads 与 --buildings（二选一）")
    if osm is None and (roads is None or buildings is None):
        raise InputError(
            "give --osm FILE, or --roads FILE and --buildings FILE",
            "请给出 OSM 提取文件（--osm），或同时给出道路（--roads）和建筑（--buildings）文件",
        )
    given = {"--osm": osm, "--roads": roads, "--buildings": buildings, "--totals": totals, "--areas": areas}
    given |= {"--facilities": facilities, "--shelters": shelters, "--plan": plan}
    for opt, path in given.items():
        if path is not None and not Path(path).is_file():
            raise InputError(f"file not found: {path} ({opt})", f"找不到文件：{path}（{opt}），未写入任何数据")
    try:
        rows, own_levels = read_totals_table(totals, level), True
    except InputError:
        if level is not None:
            raise
        rows, own_levels = read_totals_table(totals, "street"), False  # the same errors, except the level's
    if areas is None and len(rows) != 1:
        raise InputError(
            f"{totals.name} has {len(rows)} rows but no --areas",
            f"统计数文件 {totals.name} 有 {len(rows)} 行，但未给出行政区划（--areas）：无法确定各区域的范围。"
            "请用 --areas 提供行政区划，或只给一行（全域）统计数。未写入任何数据",
        )
    return rows, own_levels


def _import(store, layer: str, path: Path, plan: str | None = None) -> list[str]:
    """Import a file like ``geo-service import``; the summary line and the importer's notes."""
    from geo_service.core.auth import cli_actor
    from geo_service.core.importer import ImportOptions, run_import

    res = run_import(store, layer, path, ImportOptions(plan=plan), actor=cli_actor())
    return [res.summary_zh(), *(f"提示：{zh}" for _en, zh in res.warnings)]


# ------------------------------------------------------------------ totals against the admin areas
def _areas_frame(store):
    from population.params import LEVEL_ALIASES

    a = store.read_layer("admin_areas")
    a["level"] = [LEVEL_ALIASES.get(str(v), str(v)) for v in a["level"]]
    return a


def _find(areas, row) -> list[int]:
    """Indexes of the areas a totals row names: by code, else by name (as population matches them)."""
    hits = list(areas.index[areas["code"].astype(str) == row.code]) if row.code else []
    if not hits and row.name:
        hits = list(areas.index[areas["name"].astype(str) == row.name])
    return hits


def _totals_level(store, rows, level: str | None, source: str) -> str:
    """The level of the totals: ``--level`` or a level column, else the level of the areas the rows name."""
    from population.params import LEVEL_ALIASES, LEVEL_ZH, LEVELS

    if level is not None:
        lvl = LEVEL_ALIASES.get(level.strip(), level.strip().lower())
        if lvl not in LEVELS:
            raise InputError(f"unknown level {level!r}", f"未知的统计层级 {level!r}，应为 {'、'.join(LEVELS)} 之一")
        return lvl
    areas = _areas_frame(store)
    found = {areas.at[i, "level"] for r in rows for i in _find(areas, r)}
    if len(found) > 1:
        raise InputError(
            f"{source}: rows name areas of several levels {sorted(found)}",
            f"{source} 的行分属多个层级（{'、'.join(LEVEL_ZH.get(x, x) for x in sorted(found))}）："
            "请在表中加“层级”列，或用 --level 指明",
        )
    return next(iter(found), "street")


def _match_line(store, rows, source: str) -> str:
    """Check that every totals row names an area of its level (nothing written); a line saying so."""
    from population.params import LEVEL_ZH

    areas = _areas_frame(store)
    missing = [f"{LEVEL_ZH[r.level]}「{r.label}」" for r in rows if not _find(areas[areas["level"] == r.level], r)]
    if missing:
        raise InputError(
            f"{len(missing)} total(s) of {source} match no area",
            f"{source}：{len(missing)} 条统计数找不到对应的行政区划（按代码、再按名称匹配）："
            + "、".join(missing[:30])
            + "。请核对代码、名称或层级",
        )
    by_level = "，".join(
        f"{LEVEL_ZH[lv]} {sum(r.level == lv for r in rows)} 条" for lv in dict.fromkeys(r.level for r in rows)
    )
    people = sum(r.residents for r in rows)
    return f"统计数（{by_level}）全部对应到行政区划，常住人口合计 {people:,} 人"


def _one_area(store, row, source: str, steps: Steps) -> str:
    """One street-level area from the extent of the data, named after the single totals row."""
    import geopandas as gpd
    import shapely

    from geo_service.core.coherence import layer_extents
    from geo_service.core.importer import ImportOptions, import_frame
    from geo_service.core.layers import get_layer

    boxes = list(layer_extents(store, EXTENT_LAYERS).values())
    if not boxes:
        raise InputError("no data to take the extent from", "没有建筑或路网数据，无法由数据范围设定统计区域")
    m = EXTENT_MARGIN_DEG
    box = shapely.box(
        min(b[0] for b in boxes) - m, min(b[1] for b in boxes) - m, max(b[2] for b in boxes) + m,
        max(b[3] for b in boxes) + m,
    )  # fmt: skip
    import re

    from geo_service.core.layers import ADMIN_CODE_PATTERN

    code = row.code if row.code and re.fullmatch(ADMIN_CODE_PATTERN, row.code) else ONE_AREA_CODE
    name = row.name or row.code
    frame = gpd.GeoDataFrame(
        {"source_id": [f"bootstrap:{code}"], "level": ["street"], "code": [code], "name": [name]},
        geometry=[box],
        crs=4326,
    )
    import_frame(store, get_layer("admin_areas"), frame, ImportOptions(), actor=ACTOR, source_name=source)
    steps.assumed.append(
        f"未提供行政区划：统计数只有一行「{row.label}」，以数据范围（建筑与路网外包矩形，外扩约 50 米）"
        f"作为一个街道级统计区域，代码 {code}，名称「{name}」"
    )
    w, s, e, n = box.bounds
    return f"街道「{name}」（代码 {code}），范围 {w:.4f},{s:.4f} – {e:.4f},{n:.4f}"


# ------------------------------------------------------------------ data
def _load_osm(store, steps: Steps, path: Path, *, facilities: bool, shelters: bool) -> None:
    from geo_service.core.datasets import store_osm
    from geo_service.core.osm import read_osm

    with steps.step("读取并导入 OSM 提取") as lines:
        data = read_osm(path)
        dropped = {}
        if facilities:
            dropped["设施"] = len(data.facilities)
            data = replace(data, facilities=data.facilities.iloc[:0])
        if shelters:
            dropped["避难场所"] = len(data.shelters)
            data = replace(data, shelters=data.shelters.iloc[:0])
        summary = store_osm(store, data, name=path.name.split(".")[0])
        lines.append(summary.line_zh(f"网络编号 {summary.network_id}"))
        lines += [f"未导入 OSM {k} {n} 处：以本地名单为准" for k, n in dropped.items()]
        steps.notes.extend(summary.notes_zh)
    if store.count("roads") == 0:
        with steps.step("道路中心线（取自 OSM 路网）") as lines:
            n = _roads_from_network(store, summary.network_id)
            lines.append(f"主干路、支路 {n} 条（按 OSM 路径合并）写入道路中心线图层，用于围合街坊")
        steps.assumed.append(
            f"未提供道路中心线：以 OSM 路网中的主干路、支路（{n} 条）作为街坊边界；步行道、过街设施不分隔街坊"
        )
    if not facilities:
        steps.assumed.append(
            f"未提供本地设施名单：使用 OSM 中的设施 {summary.counts.get('facilities', 0)} 处（可能不全）"
        )
    if not shelters:
        steps.assumed.append(
            f"未提供本地避难场所名单：使用 OSM 中的避难场所 {summary.counts.get('shelters', 0)} 处（可能不全）"
        )


def _roads_from_network(store, network_id: int) -> int:
    """Write the arterial and local roads of a stored OSM network into ``roads`` (one feature per way, with its
    OSM name)."""
    import geopandas as gpd

    from geo_service.core.importer import ImportOptions, import_frame
    from geo_service.core.layers import get_layer

    edges = store.read_layer("network_edges", network_id=network_id)
    edges = edges[edges["road_class"].isin(BLOCK_ROAD_CLASSES) & edges["osm_way_id"].notna()]
    if edges.empty:
        return 0
    ways = edges.dissolve(by="osm_way_id", aggfunc={"road_class": "first", "name": "first"}).reset_index()
    frame = gpd.GeoDataFrame(
        {
            "source_id": [f"osm:way/{int(w)}" for w in ways["osm_way_id"]],
            "name": ways["name"],  # the road names on maps come from this layer
            "road_class": ways["road_class"],
        },
        geometry=ways.geometry.values,
        crs=4326,
    )
    import_frame(store, get_layer("roads"), frame, ImportOptions(), actor=ACTOR, source_name="OSM 路网")
    return len(frame)


def _load_files(store, steps: Steps, roads: Path, buildings: Path) -> None:
    import numpy as np

    from geo_service.core.crs import metric_crs_for
    from geo_service.core.network import edges_from_lines, load_network

    with steps.step("导入道路") as lines:
        lines += _import(store, "roads", roads)
    with steps.step("导入建筑") as lines:
        lines += _import(store, "buildings", buildings)
    with steps.step("生成步行网络") as lines:
        frame = store.read_layer("roads")
        nodes, edges = edges_from_lines(frame)
        nid = store.write_network("roads", "roads", nodes, edges, metric_epsg=metric_crs_for(nodes).to_epsg())
        net = load_network(store, nid)
        largest = int(np.bincount(net.components()).max()) if net.n_nodes else 0
        lines.append(f"网络编号 {nid}：{net.n_nodes:,} 个节点，{net.n_edges:,} 条路段，最大连通部分 {largest:,} 个节点")


# ------------------------------------------------------------------ results
def _units(store, steps: Steps, rows: list, source: str) -> None:
    from geo_service.core.auth import cli_actor
    from population.params import UnitsParams
    from population.service import build_units

    with steps.step("生成人口单元") as lines:
        records = [{"level": r.level, "code": r.code, "name": r.name, "residents": r.residents} for r in rows]
        for rec, r in zip(records, rows):
            if r.households is not None:
                rec["households"] = r.households
        params = UnitsParams.from_input(store.norms, rows=records)
        params = replace(params, totals=tuple(replace(r, source=source) for r in params.totals), sources=(source,))
        run = build_units(store, params, created_by=cli_actor())
        s = run["summary"]
        u = s["units"]
        lines.append(
            f"人口单元 {u['count']:,} 个 {u['by_basis']}，常住人口 {u['residents']:,} 人，{u['households']:,} 户"
            f"（计算编号 {run['id']}）"
        )
        for c in s.get("checks", []):
            what = "人口" if c["what"] == "residents" else "户数"
            lines.append(f"核对 {c['tier']} {what}：{c['exact']}/{c['areas']} 个区域与统计数一致")
    steps.assumed += [f"{a['text_zh']}（{a['count']:,} 处）" for a in s.get("assumptions", [])]
    steps.notes += [x["text_zh"] for x in s.get("mismatches", [])]
    steps.notes += [x["text_zh"] for x in s.get("nesting", [])]
    if u.get("uncovered"):
        steps.notes.append(f"未被任何统计数覆盖的人口单元 {u['uncovered']} 个（人口记为 0）")


def _plan(store, steps: Steps, path: Path | None) -> None:
    from boundaries.params import DelineationParams
    from boundaries.service import PlanService
    from geo_service.core.auth import cli_actor

    svc = PlanService(store)
    if path is not None:
        name = f"{path.stem}（bootstrap 导入）"
        with steps.step("导入社区划分方案") as lines:
            lines += _import(store, "communities", path, plan=name)
            lines[0] += f"，方案「{name}」"
    else:
        with steps.step("自动划分社区（草案）") as lines:
            params = DelineationParams.from_input(svc.norms, streets=None)
            res = svc.delineate(params, name=f"自动划分 {time.strftime('%Y%m%d-%H%M%S')}", created_by=cli_actor())
            tot = res["evaluation"].totals
            name = res["name"]
            lines.append(
                f"方案「{name}」（编号 {res['plan_id']}）：{tot['communities']} 个社区，户数达标 {tot['in_band']} 个，"
                f"户数 {tot['households_min']:,}-{tot['households_max']:,}"
            )
        band = res["band"]
        steps.assumed.append(
            f"未提供现状社区边界：社区划分方案为自动划分（户数 {band.min_households}-{band.max_households}），"
            "并以“bootstrap”名义采纳，仅供讨论"
        )
        steps.notes += [f"{p.get('code') or p.get('street_code')}：{p['reason_zh']}" for p in res["problems"]]
    with steps.step("采纳社区划分方案") as lines:
        adopted = svc.adopt(name, adopted_by=ACTOR, actor=cli_actor())
        lines.append(f"方案编号 {adopted['plan_id']} 版本 {adopted['version']} 已采纳（采纳人 {ACTOR}）")


def _coverage(store, steps: Steps) -> None:
    from facilities.coverage import CoverageParams
    from facilities.service import current_coverage
    from geo_service.core.auth import cli_actor

    if store.count("facilities") == 0:
        steps.notes.append(
            "未运行生活圈覆盖分析：没有设施数据。用 --facilities 提供设施名单后重新运行，或 geo-service coverage"
        )
        return
    with steps.step("生活圈覆盖分析") as lines:
        run = current_coverage(store, params=CoverageParams.from_input(None), created_by=cli_actor())
        s = run["summary"]
        rates = "，".join(f"{lv['level']} {pct(lv['complete_rate'])}" for lv in s["levels"])
        lines.append(f"运行编号 {run['id']}，人口 {s['residents']:,} 人：完整生活圈覆盖率（步行）{rates}")
    steps.notes += list(s.get("warnings", []))


def _audit(store, steps: Steps) -> None:
    from facilities.audit import AuditParams
    from facilities.audit_service import current_audit
    from geo_service.core.auth import cli_actor

    with steps.step("设施与避难场所审计") as lines:
        run = current_audit(store, params=AuditParams.from_input(None, 1.0), created_by=cli_actor())
        s = run["summary"]
        line = (
            f"运行编号 {run['id']}，社区 {s['communities']} 个：无固定办公场所 {s['communities_without_office']} 个，"
            f"综合服务设施面积不足 {s['communities_with_space_gap']} 个（缺口 {s['service_floor_gap_m2']:,.0f} m²）"
        )
        e = s.get("emergency")
        if e:
            line += f"；紧急避难需安置 {e['demand_persons']:,} 人，无法安置 {e['unplaced']:,} 人"
        lines.append(line)
    steps.notes += list(s.get("warnings", []))


def _summary(steps: Steps) -> None:
    out.print(f"完成：{len(steps.done)} 个步骤，共用时 {time.perf_counter() - steps.t0:.1f} 秒。")
    out.print("假设（非给定数据，请核实）：")
    for a in dict.fromkeys(steps.assumed):
        say(f"  - {a}")
    if steps.notes:
        out.print("提示：")
        for n in dict.fromkeys(steps.notes):
            say(f"  - {n}")
    out.print(
        "下一步：geo-service coverage --out 覆盖.xlsx；geo-service audit --out 审计.xlsx；"
        "geo-service plan list；geo-service serve"
    )
