"""Boundary-plan commands (Art. 3): ``geo-service delineate`` and ``geo-service plan ...``.

Messages are in Chinese; bad input exits with code 1 and a message.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from geo_service.core.auth import cli_actor
from geo_service.core.jsonvalues import plain

from ._common import DbOpt, cli_errors, console, format_of, open_store, out

app = typer.Typer()
plan_app = typer.Typer(help="社区划分方案：评估、导出、采纳 / Community boundary plans.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")


def _svc(database_url):
    from boundaries.service import PlanService

    return PlanService(open_store(database_url))


@app.command("delineate")
def delineate_cmd(
    street: list[str] = typer.Option(..., "--street", "-s", help="街道代码（可重复给出多个）；all 表示全部街道"),
    households: str | None = typer.Option(
        None, "--households", help="每个社区的户数范围 下限-上限，如 1000-3000（默认取规范配置）"
    ),
    from_plan: str | None = typer.Option(None, "--from-plan", help="现状方案（编号或名称）：在其基础上最小调整"),
    k: int | None = typer.Option(
        None, "--k", min=1, help="社区数量（仅限单个街道；默认按户数、户数范围和社区工作者数确定）"
    ),
    mode: str | None = typer.Option(
        None,
        "--mode",
        help="fresh（重新划分）| closest（重新划分并尽量接近现状）| "
        "minimal_change（最小调整，给出 --from-plan 时默认）",
    ),
    name: str | None = typer.Option(None, "--name", help="草案名称（默认“划分草案 <时间>”）"),
    out_file: Path | None = typer.Option(
        None, "--out", "-o", help="同时导出到文件（.gpkg、.geojson 或 .zip 即 Shapefile）"
    ),
    crs: str = typer.Option("EPSG:4490", "--crs", help="导出坐标系（默认 EPSG:4490 CGCS2000）"),
    no_save: bool = typer.Option(False, "--no-save", help="不写入数据库，只输出结果"),
    database_url: str | None = DbOpt,
):
    """Propose a community plan for streets (按户数范围自动划分社区，生成草案)."""
    from boundaries.params import DelineationParams

    with cli_errors():
        svc = _svc(database_url)
        params = DelineationParams.from_input(
            svc.norms, streets=street, households=households, k=k, from_plan=from_plan, mode=mode
        )
        res = svc.delineate(params, name=name, created_by=cli_actor(), save=not no_save)
        tot = res["evaluation"].totals
        line = (
            f"划分完成（{res['mode']}）：{tot['communities']} 个社区，户数达标 {tot['in_band']} 个，"
            f"户数 {tot['households_min']}-{tot['households_max']}，"
            f"平均紧凑度（Polsby-Popper）{tot['polsby_popper_mean']:.2f}，"
            f"用时 {res['seconds']:.2f} 秒"
        )
        if "residents_moved" in tot:
            line += f"，相对现状调整居民 {tot['residents_moved']} 人"
        out.print(line)
        for p in res["problems"]:
            who = p.get("code") or p.get("street_code")
            console.print(f"[yellow]未达标[/yellow] {who}：", end="")
            console.print(p["reason_zh"], markup=False, highlight=False)
        if res["plan_id"] is not None:
            out.print(f"已保存为草案「{res['name']}」（方案编号 {res['plan_id']}，版本 1）")
        if out_file is not None:
            from boundaries.service import EXPORT_COLUMNS, export_frame
            from geo_service.core.exporter import reproject
            from geo_service.core.io import write_file

            fmt = format_of(out_file)
            gdf = reproject(export_frame(svc.unit_set(), res["evaluation"].communities), crs)
            path = write_file(gdf, out_file, fmt, layer_name="communities", headers_zh=EXPORT_COLUMNS)
            out.print(f"已导出 {len(gdf)} 个社区到 {path}（{fmt}，{crs}）")


@plan_app.command("list")
def plan_list(database_url: str | None = DbOpt):
    """List plans (方案列表)."""
    with cli_errors():
        for p in _svc(database_url).list_plans():
            out.print(f"{p['id']}\t{p['name']}\t版本 {p['version']}\t{p['status']}\t{p['communities']} 个社区")


@plan_app.command("evaluate")
def plan_evaluate(
    plan: str = typer.Argument(..., help="方案编号或名称"),
    households: str | None = typer.Option(None, "--households", help="户数范围 下限-上限"),
    other: str | None = typer.Option(None, "--other", help="对比方案：统计调整的居民数"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    database_url: str | None = DbOpt,
):
    """Evaluate a plan (方案评估：户数、连续性、紧凑度、服务站、社区工作者)."""
    from boundaries.params import EvaluationParams
    from boundaries.service import rows_records

    with cli_errors():
        svc = _svc(database_url)
        row, ev, ver = svc.evaluate(plan, EvaluationParams.from_input(svc.norms, households=households, other=other))
        if as_json:
            out.print(
                json.dumps(
                    {
                        "plan_id": row["id"],
                        "version": ver,
                        "totals": plain(ev.totals),
                        "communities": rows_records(ev.communities),
                    },
                    ensure_ascii=False,
                    indent=1,
                )
            )
            return
        t = ev.totals
        out.print(
            f"方案「{row['name']}」版本 {ver}：{t['communities']} 个社区，户数达标 {t['in_band']} 个，"
            f"连续 {t['contiguous']} 个，"
            f"平均 Polsby-Popper {t['polsby_popper_mean']:.2f}，凸包比 {t['convex_hull_ratio_mean']:.2f}，"
            f"有问题的社区 {t['communities_flagged']} 个（服务站距离：{t['station_distance_method']}）"
        )
        for r in ev.communities.itertuples():
            if r.flags:
                console.print(
                    f"{r.code} {r.name}：" + "；".join(f["label_zh"] for f in r.flags),
                    markup=False,
                    highlight=False,
                )


@plan_app.command("export")
def plan_export(
    plan: str = typer.Argument(..., help="方案编号或名称"),
    out_file: Path = typer.Option(..., "--out", "-o", help="输出文件：.gpkg、.geojson 或 .zip（Shapefile）"),
    crs: str = typer.Option("EPSG:4490", "--crs", help="输出坐标系（默认 EPSG:4490）"),
    database_url: str | None = DbOpt,
):
    """Export a plan's communities with their figures (导出方案)."""
    with cli_errors():
        path, n = _svc(database_url).export(plan, format_of(out_file), out_file, crs=crs)
        out.print(f"已导出 {n} 个社区到 {path}（{crs}）")


@plan_app.command("adopt")
def plan_adopt(
    plan: str = typer.Argument(..., help="方案编号或名称"),
    by: str = typer.Option(..., "--by", help="采纳人（姓名或单位）"),
    database_url: str | None = DbOpt,
):
    """Adopt a plan (采纳方案，记录采纳人和时间)."""
    with cli_errors():
        res = _svc(database_url).adopt(plan, adopted_by=by, actor=cli_actor())
        out.print(f"方案 {res['plan_id']} 版本 {res['version']} 已由 {res['adopted_by']} 于 {res['adopted_at']} 采纳")
        merged = res.get("merged_from")
        if merged:
            out.print(
                f"草案只含部分街道：其余街道沿用现行方案「{merged['name']}」的 {merged['communities_kept']} 个社区，"
                f"合并为版本 {res['version']}"
            )
        for s in res["superseded"]:
            out.print(f"原方案「{s['name']}」改为已被替代")
