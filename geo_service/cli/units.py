"""Population-unit commands (issue 14): ``geo-service units build``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from geo_service.core.auth import cli_actor
from geo_service.core.jsonvalues import plain as plain_json

from ._common import DbOpt, cli_errors, console, open_store, out, plain

app = typer.Typer(
    help="人口单元：由建筑、小区和统计数生成 / Population units from buildings and totals.", no_args_is_help=True
)


@app.command("build")
def build_cmd(
    totals: list[Path] = typer.Option(..., "--totals", "-t", help="统计数文件（CSV/XLSX，按代码或名称；可重复给出）"),
    level: list[str] = typer.Option(
        [], "--level", "-l", help="统计层级 district | street | community | grid（一个，或每个 --totals 一个）"
    ),
    column_map: list[str] = typer.Option(
        [], "--map", help="列对应 字段=列名（字段 code、name、residents、households、level），如 --map code=网格编码"
    ),
    raster: Path | None = typer.Option(None, "--raster", help="人口栅格（GeoTIFF，任意坐标系）作为权重"),
    dry_run: bool = typer.Option(False, "--dry-run", help="只计算和报告，不写入数据库"),
    recompute: bool = typer.Option(False, "--recompute", help="输入未变也重新计算"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON 摘要"),
    database_url: str | None = DbOpt,
):
    """Build population units with integer residents and households (生成人口单元并分配常住人口、户数)."""
    from population.params import UnitsParams
    from population.service import build_units

    with cli_errors():
        store = open_store(database_url)
        params = UnitsParams.from_input(
            store.norms, totals=totals, levels=level, column_map=column_map, raster=raster, dry_run=dry_run
        )
        run = build_units(store, params, created_by=cli_actor(), recompute=recompute)
        summary = run["summary"]
        if as_json:
            out.print(json.dumps(plain_json({"run_id": run["id"], "summary": summary}), ensure_ascii=False, indent=1))
            return
        for line in summary.get("lines_zh", []):
            plain(line)
        u = summary["units"]
        if run["id"] is None:
            out.print(
                f"试运行：生成人口单元 {u['count']} 个，常住人口 {u['residents']} 人，"
                f"{u['households']} 户；未写入数据库"
            )
        else:
            ids = summary.get("ids") or {}
            kept = (
                f"沿用原编号 {ids['kept']} 个，新增 {ids['new']} 个，删除 {ids['removed']} 个"
                if ids
                else f"替换原有 {summary.get('replaced_units', 0)} 个"
            )
            out.print(
                f"已生成人口单元 {u['count']} 个（{kept}），"
                f"常住人口 {u['residents']} 人，{u['households']} 户；计算编号 {run['id']}"
            )
        if summary.get("mismatches"):
            console.print(f"[yellow]注意[/yellow]：{len(summary['mismatches'])} 处上下级统计数不一致，已以上级为准")
