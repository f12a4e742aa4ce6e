"""Art. 18 gap closing (issue 19): ``geo-service gap-plan``."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import DbOpt, cli_errors, console, open_store, out

app = typer.Typer(help="条例第十八条：缺口补足方案 / Closing community space gaps (Art. 18).", no_args_is_help=True)

_FORMATS = {".xlsx": "xlsx", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".csv": "csv"}


@app.command("gap-plan")
def gap_plan_cmd(
    budget: float | None = typer.Option(
        None, "--budget", help="预算上限（元，含租金计入年限内的租金）；不给时不限预算", show_default=False
    ),
    plan: str | None = typer.Option(None, "--plan", help="社区划分方案编号或名称（默认已批准的方案）"),
    out_file: Path | None = typer.Option(
        None,
        "--out",
        help="输出文件：.xlsx（汇总、「缺口补足方案」、采用标准三页）、.geojson、.gpkg 或 .csv；不给时只显示汇总",
    ),
    street: str | None = typer.Option(None, "--street", help="只输出一个街道的部分（街道代码）"),
    recompute: bool = typer.Option(False, "--recompute", help="即使数据未变也重新计算"),
    database_url: str | None = DbOpt,
):
    """How each community's space gap closes with idle assets, purchases, leases, swaps and extensions
    (缺口补足方案：闲置资产、购置租赁、调剂置换、改建扩建)."""
    from facilities.audit import GapPlanParams
    from facilities.audit_report import write_audit
    from facilities.audit_service import current_audit, run_tables
    from geo_service.core._errors import InputError

    with cli_errors():
        gap_params = GapPlanParams.from_input(budget)
        fmt = None
        if out_file is not None:
            fmt = _FORMATS.get(out_file.suffix.lower())
            if fmt is None:
                raise InputError(
                    f"output file must end in .xlsx, .geojson, .gpkg or .csv, got {out_file.name}",
                    f"输出文件扩展名应为 .xlsx、.geojson、.gpkg 或 .csv，收到 {out_file.name}",
                )
        store = open_store(database_url)
        run = current_audit(store, plan=plan, gap_params=gap_params, recompute=recompute)
        _print(run)
        if out_file is None or fmt is None:
            return
        path = write_audit(
            out_file,
            fmt,
            summary=run["summary"],
            tables=run_tables(store, run["id"]),
            output="gap_plan",
            street_code=street,
        )
        out.print(f"已写出：{path}")


def _print(run: dict) -> None:
    s = run["summary"]
    g = s.get("gap_plan") or {}
    plan = s.get("plan") or {}
    budget = g.get("budget_yuan")
    console.print(
        f"缺口补足方案（审计运行 {run['id']}，方案「{plan.get('name')}」，"
        f"预算 {'不限' if budget is None else f'{budget:,.0f} 元'}）"
    )
    out.print(
        f"  有待补足需求的社区 {g.get('communities_with_needs', 0)} 个：全部补足 {g.get('communities_closed', 0)} 个，"
        f"部分补足 {g.get('communities_partly', 0)} 个，仍有缺口 {g.get('communities_open', 0)} 个"
    )
    out.print(
        f"  需求面积 {g.get('need_m2', 0):,.0f} m²，可补足 {g.get('closed_m2', 0):,.0f} m²；"
        f"可用空间 {g.get('candidates', 0)} 处（另有 {g.get('candidates_excluded', 0)} 处缺少数据或已过可用期），"
        f"使用 {g.get('spaces_used', 0)} 处"
    )
    out.print(
        f"  费用合计 {g.get('cost_yuan', 0):,.0f} 元（含租金计入年限），"
        f"其中年租金 {g.get('rent_yuan_per_year', 0):,.0f} 元/年"
    )
    gr = g.get("greedy") or {}
    if gr:
        out.print(f"  对照：逐个就近分配可补足 {gr.get('closed_m2', 0):,.0f} m²，费用 {gr.get('cost_yuan', 0):,.0f} 元")
