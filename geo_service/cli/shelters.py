"""避难场所情景与张贴图 / Shelter scenarios and posters (issue 16): ``shelter-scenario`` and ``poster``."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import DbOpt, cli_errors, console, open_store, out, plain

app = typer.Typer(help="避难场所情景与张贴图 / Shelter scenarios and posters (issue 16)", no_args_is_help=True)

SCENARIO_SUFFIXES = (".xlsx", ".geojson", ".json", ".html")


@app.command("shelter-scenario")
def scenario_cmd(
    hazard: list[str] = typer.Option(
        None, "--hazard", help="启用的灾害风险区编号（id 或 source_id），可重复或用逗号分隔"
    ),
    close: list[str] = typer.Option(None, "--close", help="关闭的避难场所编号（id 或 source_id），可重复或用逗号分隔"),
    plan: str | None = typer.Option(None, "--plan", help="社区划分方案编号或名称（默认已批准的方案），用于按社区汇总"),
    walk_limit: float | None = typer.Option(None, "--walk-limit", help="紧急避难步行距离上限（米），默认取规范配置"),
    day_night: float = typer.Option(1.0, "--day-night-factor", help="昼夜人口系数：需安置人数 = 常住人口 × 系数"),
    out_file: Path | None = typer.Option(None, "--out", help="输出文件：.xlsx、.geojson 或 .html（地图）"),
    recompute: bool = typer.Option(False, "--recompute", help="即使数据未变也重新计算"),
    database_url: str | None = DbOpt,
):
    """Shelter scenario: hazards active, shelters closed; assignment before and after (避难场所情景分析)."""
    from facilities.scenario import ScenarioParams
    from facilities.scenario_report import write_scenario
    from facilities.scenario_service import current_scenario, run_tables
    from geo_service.core._errors import InputError

    with cli_errors():
        if out_file is not None and out_file.suffix.lower() not in SCENARIO_SUFFIXES:
            raise InputError(
                f"output must end in .xlsx, .geojson or .html, got {out_file.name}",
                f"输出文件扩展名应为 .xlsx、.geojson 或 .html，收到 {out_file.name}",
            )
        params = ScenarioParams.from_input(hazard, close, walk_limit, day_night)
        store = open_store(database_url)
        run = current_scenario(store, params, plan=plan, recompute=recompute)
        t = run["summary"]
        console.print(f"避难场所情景分析（运行编号 {run['id']}）")
        active = "、".join(t.get("hazards_active_zh", t["hazards_active"])) or "无"
        out.print(f"  启用的灾害风险区：{active}；因灾害封闭路段 {t['edges_removed']} 段")
        out.print(
            f"  关闭的避难场所：{t['shelters_closed']} 处（点名关闭 {t['shelters_named_closed']}，"
            f"位于灾害区内 {t['shelters_in_active_zones']}）"
        )
        out.print(f"  可用容量：{t['capacity_before']:,} → {t['capacity_after']:,} 人；需安置 {t['demand']:,} 人")
        out.print(f"  无法安置：{t['unplaced_before']:,} → {t['unplaced_after']:,} 人")
        walk_b, walk_a = t["mean_walk_before_m"], t["mean_walk_after_m"]
        out.print(
            f"  平均步行距离：{walk_b if walk_b is not None else '—'} → {walk_a if walk_a is not None else '—'} 米"
        )
        tables = run_tables(store, run["id"])
        cm = tables.get("communities")
        if cm is not None and len(cm) and (cm["change"] > 0).any():
            out.print("  无法安置人数增加最多的社区：")
            for _, r in cm[cm["change"] > 0].sort_values("change", ascending=False).head(10).iterrows():
                plain(
                    f"    {r['name']}（{r['community_code']}）：{r['unplaced_before']:,} → {r['unplaced_after']:,} 人"
                )
        if out_file is None:
            return
        if out_file.suffix.lower() == ".html":
            from maps.hazards import scenario_page

            out_file.parent.mkdir(parents=True, exist_ok=True)
            out_file.write_text(scenario_page(store, run, tables, inline=True), encoding="utf-8")
        else:
            write_scenario(out_file, t, tables)
        out.print(f"已写出：{out_file}")


@app.command("poster")
def poster_cmd(
    community: str = typer.Argument(..., help="社区代码或名称"),
    out_file: Path = typer.Option(..., "--out", help="输出 PDF 文件（A3）"),
    plan: str | None = typer.Option(None, "--plan", help="社区划分方案编号或名称（默认已批准的方案）"),
    database_url: str | None = DbOpt,
):
    """Printable community shelter map, A3 PDF (社区应急避难场所分布图)."""
    from geo_service.core._errors import InputError
    from maps.poster import render_poster

    with cli_errors():
        if out_file.suffix.lower() != ".pdf":
            raise InputError(
                f"output must end in .pdf, got {out_file.name}", f"输出文件扩展名应为 .pdf，收到 {out_file.name}"
            )
        store = open_store(database_url)
        pdf, info = render_poster(store, community, plan=plan)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_bytes(pdf)
        out.print(
            f"已写出：{out_file}（{info['community_name']}，避难场所 {info['shelters']} 处，"
            f"人口单元 {info['units']} 个，步行路线 {info['routes']} 条）"
        )
        if not info["shelters"]:
            out.print("提示：本社区及周边没有应急避难场所，分布图上只标出无避难位置的范围；请先导入或规划避难场所。")
