"""年度体检报告 / The annual report (issue 17): ``geo-service report --year 2026 --out 报告.docx [--pdf]``."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import DbOpt, cli_errors, console, open_store, out

app = typer.Typer(help="年度体检报告 / The annual report (issue 17)", no_args_is_help=True)


@app.command("report")
def report_cmd(
    year: int | None = typer.Option(None, "--year", help="体检年度（默认今年）"),
    out_file: Path = typer.Option(Path("社区设施体检报告.docx"), "--out", "-o", help="输出的 Word 文档（.docx）"),
    pdf: bool = typer.Option(False, "--pdf", help="同时用 LibreOffice 生成同名 PDF"),
    template: Path | None = typer.Option(
        None, "--template", help="本地报告模板（.docx，docxtpl 字段）；默认使用内置模板"
    ),
    database_url: str | None = DbOpt,
):
    """Build the annual community facilities report (社区设施体检报告，Word/PDF，第三、十二、十五、十八条)."""
    from geo_service.core._errors import InputError
    from maps.annual_report import ReportParams, build_report, write_report

    with cli_errors():
        if out_file.suffix.lower() != ".docx":
            raise InputError(
                f"the output file must end in .docx, got {out_file.name}",
                f"输出文件应为 Word 文档（.docx），收到 {out_file.name}；PDF 请加 --pdf",
            )
        params = ReportParams.from_input(year, "pdf" if pdf else "docx", template)
        store = open_store(database_url)
        console.print(f"正在生成 {params.year} 年度社区设施体检报告……")
        report = build_report(store, params)
        paths = write_report(report, out_file)
        s = report.seconds
        for p in paths:
            out.print(f"已写出：{p}")
        out.print(
            f"用时 {s['total']:.1f} 秒（第三条 {s.get('art3', 0):.1f}、第十二条 {s.get('art12', 0):.1f}、"
            f"第十五/十八条 {s.get('art15_18', 0):.1f}、地图 {sum(v for k, v in s.items() if k.endswith('_map')):.1f}、"
            f"Word {s.get('docx', 0):.1f}" + (f"、PDF {s['pdf']:.1f}" if "pdf" in s else "") + " 秒）"
        )
