"""``geo-service batch``: every county of a province on Dask distributed (issue 18)."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import cli_errors, console

app = typer.Typer(help="多区县批量计算（Dask）/ A province in one run on Dask distributed.", no_args_is_help=True)


@app.command("batch")
def batch_cmd(
    counties: str = typer.Option(
        ..., "--counties", "-c", help="区县数据：每县一个 .sqlite 的文件夹，或含多个区县的数据库地址"
    ),
    out: Path = typer.Option(Path("batch_results"), "--out", "-o", help="结果文件夹（按区县分区）"),
    analyses: str = typer.Option(
        "coverage", "--analyses", "-a", help="分析，逗号分隔：coverage（生活圈覆盖）、audit（设施与避难场所审计）"
    ),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Dask 调度器地址，如 tcp://10.0.0.5:8786；不给则本机启动"
    ),
    workers: int = typer.Option(1, "--workers", "-w", min=1, max=256, help="本机启动时的 Dask 工作进程数"),
    recompute: bool = typer.Option(False, "--recompute", help="已完成的区县也重新计算"),
) -> None:
    """Run the analyses for every county; finished counties are skipped, failed ones reported (批量计算各区县)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from geo_service.batch import run_batch

    names = [a.strip() for a in analyses.split(",") if a.strip()]
    with cli_errors():
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as bar:
            task = bar.add_task("区县计算", total=None)

            def progress(done: int, total: int, code: str) -> None:
                bar.update(task, total=total, completed=done, description=f"区县计算（刚完成 {code}）")

            report = run_batch(
                counties,
                out,
                analyses=names,
                scheduler=scheduler,
                workers=workers,
                recompute=recompute,
                progress=progress,
            )
    for code, reason in sorted(report.failed.items()):
        console.print(f"[red]区县 {code} 失败[/red]：{reason}")
    console.print(
        f"完成 {len(report.done)} 个区县，跳过已完成 {len(report.skipped)} 个，失败 {len(report.failed)} 个；"
        f"结果在 {out}" + (f"，汇总表 {report.summary_xlsx.name}" if report.summary_xlsx else "")
    )
    if report.failed:
        raise typer.Exit(code=1)
