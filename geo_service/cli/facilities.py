"""Facility commands (Art. 12, 15, 18): coverage, the audit, nearest facility, siting, building the network, search."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ._common import DbOpt, cli_errors, console, open_store, out, pct

app = typer.Typer()


@app.command("coverage")
def coverage_cmd(
    level: list[str] = typer.Option(None, "--level", help="生活圈层级，可重复：5min、10min、15min（默认全部）"),
    plan: str | None = typer.Option(None, "--plan", help="社区划分方案编号或名称（默认已采用的方案）"),
    speed: float | None = typer.Option(None, "--speed", help="步行速度（米/秒），默认取规范配置 1.0"),
    profile: str = typer.Option(
        "standard", "--profile", help="出行方式：standard（标准）、elderly（老年人）、wheelchair（轮椅）"
    ),
    fmt: str = typer.Option("xlsx", "--format", help="geojson、csv、xlsx、gpkg 或 shp"),
    output: str = typer.Option("units", "--output", help="geojson/csv 输出的内容：units、communities、streets、gaps"),
    out_file: Path | None = typer.Option(None, "--out", help="输出文件；不给时只显示汇总"),
    recompute: bool = typer.Option(False, "--recompute", help="即使数据未变也重新计算"),
    database_url: str | None = DbOpt,
):
    """Life-circle coverage per unit, community, street and city (生活圈覆盖分析)."""
    import geopandas as gpd
    import pandas as pd

    from facilities.coverage import CoverageParams
    from facilities.report import write_coverage
    from facilities.service import current_coverage
    from geo_service.core._errors import InputError

    with cli_errors():
        if fmt not in ("geojson", "csv", "xlsx", "gpkg", "shp"):
            raise InputError(f"unknown format {fmt!r}", f"未知的输出格式「{fmt}」：可用 geojson、csv、xlsx、gpkg、shp")
        if output not in ("units", "communities", "streets", "gaps"):
            raise InputError(
                f"unknown output {output!r}", f"未知的输出内容「{output}」：可用 units、communities、streets、gaps"
            )
        store = open_store(database_url)
        params = CoverageParams.from_input(level, walking_speed_mps=speed, profile=profile)
        run = current_coverage(store, params=params, plan=plan, recompute=recompute)
        s = run["summary"]
        who = "" if params.profile == "standard" else f"，出行方式：{s.get('profile_zh', params.profile)}"
        console.print(
            f"生活圈覆盖分析（运行编号 {run['id']}，人口 {s['residents']:,} 人，单元 {s['units']:,} 个{who}）"
        )
        if params.profile != "standard":
            out.print(
                f"  按同等步行时间计：下列距离为标准步行速度（{s['walking_speed_mps']:g} 米/秒）下的米数，"
                f"{s.get('profile_zh', '')}步行速度 {s.get('profile_walking_speed_mps', 0):g} 米/秒"
                + ("，不经过台阶和高路缘石" if params.profile == "wheelchair" else "")
            )
        for lv in s["levels"]:
            rate = lv["complete_rate"]
            straight = lv["complete_straight_rate"]
            out.print(
                f"  {lv['level']} 完整生活圈覆盖率：步行 {pct(rate)}，直线 {pct(straight)}（{lv['walk_m']:.0f} 米内）"
            )
        for c in s["categories"]:
            hubs = f"，其中嵌入式综合体 {c['hub_facilities']} 处" if c.get("hub_facilities") else ""
            out.print(
                f"  {c['category_zh']}：步行 {pct(c['walk_rate'])}，直线 {pct(c['straight_rate'])}"
                f"（{c['threshold_m']:.0f} 米，设施 {c['facilities']} 处{hubs}）" + _group_line(c)
            )
        for w in s.get("warnings", []):
            console.print(f"[yellow]提示：[/yellow]{w}")
        if out_file is None:
            return
        frames = {}
        for name in ("units", "communities", "streets", "gaps"):
            n = run["outputs"].get(name, 0)
            frames[name] = store.read_analysis_output(run["id"], name) if n else None
        streets = frames["streets"]
        streets = pd.DataFrame(streets.drop(columns=["geometry", "id"])) if streets is not None else pd.DataFrame()
        units = frames["units"].drop(columns=["id"])
        gaps = (
            frames["gaps"].drop(columns=["id"])
            if frames["gaps"] is not None
            else gpd.GeoDataFrame(geometry=[], crs=4326)
        )
        communities = frames["communities"].drop(columns=["id"]) if frames["communities"] is not None else None
        path = write_coverage(
            out_file,
            fmt,
            summary=s,
            units=units,
            communities=communities,
            streets=streets,
            gaps=gaps,
            output=output,
        )
        out.print(f"已写出：{path}")


def _group_line(c: dict) -> str:
    """The served group's figures of one category of a coverage summary, for the printed summary."""
    tier = f"，{c['tier_zh']}" if c.get("tier") else ""
    if c.get("group") in (None, "all"):
        return f"；服务对象：{c.get('group_zh') or '全体居民'}{tier}" if "group" in c else ""
    if c.get("group_rate") is None:
        reason = c.get("group_note_zh") or "无法计算"
        return f"；服务对象 {c['group_zh']}：覆盖率无法计算（{reason}）{tier}"
    return (
        f"；服务对象 {c['group_zh']}：覆盖 {pct(c['group_rate'])}，"
        f"未覆盖 {c['group_uncovered_residents']:,.0f} 人{tier}"
    )


@app.command("audit")
def audit_cmd(
    plan: str | None = typer.Option(None, "--plan", help="社区划分方案编号或名称（默认已批准的方案）"),
    fmt: str = typer.Option("xlsx", "--format", help="xlsx（全部专题，每专题一页）、geojson、csv、gpkg 或 shp"),
    output: str = typer.Option(
        "communities",
        "--output",
        help="geojson/csv 输出的内容：communities、streets、facilities、shelters、units、assignment、parcels、"
        "developments、cannot_assess",
    ),
    out_file: Path | None = typer.Option(None, "--out", help="输出文件；不给时只显示汇总"),
    street: str | None = typer.Option(None, "--street", help="只输出一个街道的部分（街道代码），交街道办使用"),
    walk_limit: float | None = typer.Option(
        None, "--walk-limit", help="紧急避难步行距离上限（米），默认取规范配置 500"
    ),
    day_night: float = typer.Option(1.0, "--day-night-factor", help="昼夜人口系数：需安置人数 = 常住人口 × 系数"),
    profile: str | None = typer.Option(
        None, "--profile", help="避难者的出行方式：standard（标准）、elderly（老年人）、wheelchair（轮椅）"
    ),
    recompute: bool = typer.Option(False, "--recompute", help="即使数据未变也重新计算"),
    database_url: str | None = DbOpt,
):
    """Facilities and shelters audit against the spatial plan (设施与避难场所审计，条例第十八条)."""
    from facilities.audit import AuditParams
    from facilities.audit_report import OUTPUT_NAMES, write_audit
    from facilities.audit_service import current_audit, run_tables
    from geo_service.core._errors import InputError

    with cli_errors():
        if fmt not in ("geojson", "csv", "xlsx", "gpkg", "shp"):
            raise InputError(f"unknown format {fmt!r}", f"未知的输出格式「{fmt}」：可用 geojson、csv、xlsx、gpkg、shp")
        if fmt != "xlsx" and output not in OUTPUT_NAMES:
            raise InputError(
                f"unknown output {output!r}", f"未知的输出内容「{output}」：可用 {'、'.join(OUTPUT_NAMES)}"
            )
        params = AuditParams.from_input(walk_limit, day_night, profile)
        store = open_store(database_url)
        run = current_audit(store, params=params, plan=plan, recompute=recompute)
        _print_audit(run)
        if out_file is None:
            return
        path = write_audit(
            out_file,
            fmt,
            summary=run["summary"],
            tables=run_tables(store, run["id"]),
            output=output,
            street_code=street,
        )
        out.print(f"已写出：{path}")


def _print_audit(run: dict) -> None:
    s = run["summary"]
    plan = s.get("plan") or {}
    console.print(f"设施与避难场所审计（运行编号 {run['id']}，方案「{plan.get('name')}」，社区 {s['communities']} 个）")
    out.print(f"  无固定办公场所：{s['communities_without_office']} 个社区")
    out.print(
        f"  综合服务设施面积不足：{s['communities_with_space_gap']} 个社区，缺口 {s['service_floor_gap_m2']:,.0f} m²；"
        f"规划可补足 {s['communities_gap_closable_by_plan']} 个，部分 {s['communities_gap_partly_closable']} 个，"
        f"无可用地块 {s['communities_gap_not_closable']} 个"
    )
    e = s.get("emergency")
    if e:
        out.print(
            f"  紧急避难（{e['walk_limit_m']:.0f} 米内）：需安置 {e['demand_persons']:,} 人，"
            f"最优分配无法安置 {e['unplaced']:,} 人（就近分配 {e['unplaced_nearest_first']:,} 人），"
            f"就近使用时超容量的场所 {e['shelters_over_capacity_nearest_first']} 处"
        )
    if s.get("fixed_share") is not None:
        out.print(f"  固定避难场所容纳比例：{s['fixed_share']:.1%}，不达标街道 {s['streets_below_fixed_share']} 个")
    out.print(
        f"  用地规划为他用的现状设施：{s['facilities_at_risk']} 处；"
        f"规划或在建设施：{s['facilities_planned_not_built']} 处"
    )
    out.print(f"  新建住宅项目欠配设施：{s['developments_owing']} 个，合计 {s['developments_owed_m2']:,.0f} m²")
    for layer, n in (s.get("cannot_assess") or {}).items():
        out.print(f"  无法评估（{layer}）：{n} 个要素")
    worst = s.get("worst_communities") or []
    if worst:
        out.print("  问题最多的社区：" + "；".join(f"{w['name']}（{w['issues']} 项）" for w in worst[:5]))
    for w in s.get("warnings", []):
        console.print(f"[yellow]提示：[/yellow]{w}")


@app.command("nearest")
def nearest_cmd(
    lon: float = typer.Argument(..., help="经度（EPSG:4326）"),
    lat: float = typer.Argument(..., help="纬度（EPSG:4326）"),
    category: str = typer.Option("shelter", "--category", help="shelter（避难场所）或设施类别代码"),
    k: int = typer.Option(3, "--k", help="返回几处（1-5）"),
    profile: str = typer.Option(
        "standard", "--profile", help="出行方式：standard（标准）、elderly（老年人）、wheelchair（轮椅）"
    ),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON（含路线和逐段指引）"),
    database_url: str | None = DbOpt,
):
    """Nearest shelters or service points by walking, with directions (最近的避难场所或服务设施及路线指引)."""
    from facilities.nearest import NearestService

    with cli_errors():
        store = open_store(database_url)
        res = NearestService(store).query(lon, lat, category, k, profile=profile)
        if as_json:
            out.print_json(json.dumps(res, ensure_ascii=False))
            return
        q = res["query"]
        who = "" if q["profile"] == "standard" else f"（{q['profile_zh']}，{res['walking_speed_mps']:g} 米/秒）"
        out.print(f"从（{lon:.6f}, {lat:.6f}）步行{who}到最近的「{q['category_zh']}」：")
        for r in res["results"]:
            cap = f"，容量 {r['capacity']:,}" if r.get("capacity") is not None else ""
            addr = f"，{r['address']}" if r.get("address") else ""
            out.print(
                f"  {r['rank']}. {r['name'] or r['id']}：{r['walk_m']:.0f} 米，约 {r['walk_min']:.0f} 分钟{cap}{addr}"
            )
        if res["results"] and res["results"][0].get("route"):
            out.print("  路线（第 1 处）：")
            for i, step in enumerate(res["results"][0]["route"]["steps"], start=1):
                out.print(f"    {i}. {step['instruction_zh']}")
        if res.get("message_zh"):
            console.print(f"[yellow]{res['message_zh']}[/yellow]")


@app.command("siting")
def siting_cmd(
    category: str = typer.Option(..., "--category", help="设施类别代码，如 kindergarten"),
    k: int = typer.Option(3, "--k", help="新增几处"),
    walk_m: float | None = typer.Option(None, "--walk-m", help="覆盖步行距离（米），默认取规范"),
    candidates: Path | None = typer.Option(
        None, "--candidates", help="候选点 CSV（lon,lat 两列）；默认取规划社区服务设施用地"
    ),
    exact: bool = typer.Option(False, "--exact", help="同时精确求解并报告贪心算法的差距（候选点不超过 300 个）"),
    database_url: str | None = DbOpt,
):
    """Choose new facility sites that add the most covered residents (新增设施选址)."""
    import pandas as pd

    from facilities.service import SitingParams, siting_from_store
    from geo_service.core._errors import InputError

    with cli_errors():
        pts = None
        if candidates is not None:
            try:
                df = pd.read_csv(candidates)
            except (OSError, ValueError) as exc:
                raise InputError(f"cannot read {candidates}: {exc}", f"无法读取候选点文件 {candidates}") from None
            if not {"lon", "lat"} <= set(df.columns):
                raise InputError("the candidates file needs lon and lat columns", "候选点文件需要 lon、lat 两列")
            pts = list(zip(df["lon"], df["lat"]))
        params = SitingParams.from_input(category, k, walk_m=walk_m, candidates=pts, exact_check=exact)
        res = siting_from_store(open_store(database_url), params)
        out.print(
            f"「{res['category_zh']}」选址（步行 {res['walk_m']:.0f} 米，候选 {res['candidates']} 处）：现状覆盖 "
            f"{res['baseline_covered_residents']:,} / {res['total_residents']:,} 人"
        )
        for p in res["picks"]:
            out.print(
                f"  {p['rank']}. 候选 {p['candidate_id']}（{p['lon']:.6f}, {p['lat']:.6f}）："
                f"新增覆盖 {p['gain_residents']:,} 人，"
                f"累计覆盖率 {p['covered_share'] * 100:.1f}%"
            )
        if not res["picks"]:
            out.print("  没有能增加覆盖人口的候选点")
        if res.get("exact_check"):
            ec = res["exact_check"]
            out.print(
                f"  精确解新增 {ec['exact_added_residents']:,} 人，"
                f"贪心 {ec['greedy_added_residents']:,} 人，差距 {ec['gap_pct']:.2f}%"
            )


@app.command("build-network")
def build_network_cmd(
    name: str = typer.Option("roads", "--name", help="网络名称（同名网络会被替换）"),
    database_url: str | None = DbOpt,
):
    """Build the walking network from the road-centreline layer (由道路中心线图层生成步行网络)."""
    from geo_service.core._errors import InputError
    from geo_service.core.crs import metric_crs_for
    from geo_service.core.network import edges_from_lines, load_network

    with cli_errors():
        store = open_store(database_url)
        roads = store.read_layer("roads")
        if len(roads) == 0:
            raise InputError("the roads layer is empty", "道路中心线图层为空，请先导入 roads 图层")
        nodes, edges = edges_from_lines(roads)
        nid = store.write_network(name, "roads", nodes, edges, metric_epsg=metric_crs_for(nodes).to_epsg())
        net = load_network(store, nid)
        comps = net.components()
        largest = int(max(__import__("numpy").bincount(comps)))
        out.print(
            f"步行网络「{name}」（编号 {nid}）：{net.n_nodes:,} 个节点，{net.n_edges:,} 条路段，"
            f"最大连通部分 {largest:,} 个节点"
        )


@app.command("search")
def search_cmd(
    text: str = typer.Argument(..., help="小区、道路、设施名称或地址，也可用拼音首字母（如 xhxq）"),
    limit: int = typer.Option(10, "--limit", help="返回几条（1-50）"),
    kind: list[str] = typer.Option(
        None, "--kind", help="只查这些类型，可重复：facility、shelter、compound、road、street、district、building"
    ),
    near: str | None = typer.Option(None, "--near", help="参考位置「经度,纬度」：匹配程度相同时近者在前"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    database_url: str | None = DbOpt,
):
    """Search compounds, roads, facilities and addresses in the stored layers (按名称或地址搜索)."""
    from facilities.search import SearchService

    with cli_errors():
        store = open_store(database_url)
        res = SearchService(store).search(text, limit, kind or None, near)
        if as_json:
            out.print_json(json.dumps(res, ensure_ascii=False))
            return
        if not res["results"]:
            out.print(f"没有找到与「{res['query']['q']}」相符的小区、道路、设施或地址")
            return
        out.print(f"「{res['query']['q']}」的搜索结果（{res['count']} 条）：")
        for r in res["results"]:
            addr = f"，{r['address']}" if r.get("address") else ""
            dist = f"，距参考位置 {r['distance_m']:.0f} 米" if r.get("distance_m") is not None else ""
            out.print(
                f"  {r['rank']}. {r['name']}（{r['kind_zh']}"
                f"{'·' + r['category_zh'] if r.get('category_zh') else ''}）{addr}"
                f"（{r['lon']:.6f}, {r['lat']:.6f}）{dist}"
            )
