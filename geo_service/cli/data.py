"""Data commands: schema migrations, layers, import and export, OSM extracts, the sample city, database info."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from geo_service.core._errors import GeoServiceError
from geo_service.core.auth import cli_actor
from geo_service.core.layers import LAYERS, importable_layers

from ._common import DbOpt, cli_errors, console, open_store, out, plain, progress

app = typer.Typer()
db_app = typer.Typer(help="数据库迁移 / Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="目标版本"), database_url: str | None = DbOpt):
    """Apply the schema migrations (创建或升级数据库结构)."""
    with cli_errors():
        store = open_store(database_url, upgrade=False)
        rev = store.upgrade(revision)
        out.print(f"数据库结构已升级到版本 {rev}（{store.health()['backend']}）")


@db_app.command("current")
def db_current(database_url: str | None = DbOpt):
    """Show the schema revision of the database (显示当前数据库结构版本)."""
    with cli_errors():
        store = open_store(database_url, upgrade=False)
        out.print(store.current_revision() or "（空数据库，请先执行 geo-service db upgrade）")


@app.command("layers")
def layers_cmd(database_url: str | None = DbOpt):
    """List the layers with their feature counts (列出图层及要素数)."""
    with cli_errors():
        store = open_store(database_url)
        for name, spec in LAYERS.items():
            out.print(f"{name:20s} {spec.label_zh:16s} {store.count(name):>10d}")


@app.command("import")
def import_cmd(
    layer: str = typer.Argument(..., help=f"图层：{', '.join(importable_layers())}"),
    file: Path = typer.Argument(..., help="GeoJSON、GeoPackage、zip 压缩的 Shapefile、CSV 或 XLSX 文件"),
    crs: str | None = typer.Option(
        None, "--crs", help="源坐标系：EPSG:xxxx、CGCS2000、CGCS2000 高斯-克吕格分带、gcj02（高德/腾讯）、bd09（百度）"
    ),
    map_: list[str] = typer.Option(
        [], "--map", help="列映射 字段=文件列名，可重复，如 --map residents=人口合计（常用中文表头无需映射）"
    ),
    id_column: str | None = typer.Option(
        None, "--id-column", help="稳定编号列（默认 source_id/id/编号；没有时按内容生成）"
    ),
    lon: str | None = typer.Option(None, "--lon", help="CSV/XLSX 经度列"),
    lat: str | None = typer.Option(None, "--lat", help="CSV/XLSX 纬度列"),
    file_layer: str | None = typer.Option(None, "--layer", help="GeoPackage 图层或压缩包中的 Shapefile 名"),
    encoding: str | None = typer.Option(None, "--encoding", help="文字编码，如 gbk"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="跳过无效行，导入其余行"),
    repair: bool = typer.Option(False, "--repair", help="自动修复无效几何"),
    plan: str | None = typer.Option(None, "--plan", help="社区划分方案名称（仅 communities 图层）"),
    level: str | None = typer.Option(
        None, "--level", help="行政区划层级（仅 admin_areas）：county/区县 或 street/街道；默认按行政区划代码推定"
    ),
    check: bool = typer.Option(False, "--check", help="只检查，不写入数据"),
    report: Path | None = typer.Option(None, "--report", help="把检查报告另存为 XLSX 文件（有问题时也写）"),
    database_url: str | None = DbOpt,
):
    """Import a file into a layer, all or nothing (导入数据文件，全部成功或全部不写入；--check 只检查)."""
    from geo_service.core._errors import ImportValidationError
    from geo_service.core.importer import ImportOptions, parse_column_map, run_import

    with cli_errors():
        if report is not None and report.suffix.lower() != ".xlsx":
            raise GeoServiceError(
                f"--report wants an .xlsx file, got {report.name}", f"--report 应为 .xlsx 文件，收到 {report.name}"
            )
        store = open_store(database_url)
        opts = ImportOptions(
            source_crs=crs,
            column_map=parse_column_map(map_),
            id_column=id_column,
            lon_column=lon,
            lat_column=lat,
            file_layer=file_layer,
            encoding=encoding,
            skip_invalid=skip_invalid,
            repair=repair,
            plan=plan,
            level=level,
            check=check,
        )
        t0 = time.perf_counter()
        try:
            with progress(f"{'检查' if check else '导入'} {layer}") as (p, task):
                res = run_import(
                    store,
                    layer,
                    file,
                    opts,
                    actor=cli_actor(),
                    progress=lambda done, total: p.update(task, completed=done / max(total, 1)),
                )
                p.update(task, completed=1.0)
        except ImportValidationError as exc:
            if report is not None:
                _write_report(exc.report, report, file)
            raise
        for _en, zh in res.warnings:
            console.print("[yellow]提示：[/yellow]", end="")
            plain(zh)
        if res.skipped:
            plain(res.report.format_zh())
        if report is not None:
            _write_report(res.report, report, file)
        out.print(res.summary_zh() + f"，用时 {time.perf_counter() - t0:.1f} 秒")


def _write_report(rep, path: Path, source: Path) -> None:
    from geo_service.core.templates import report_xlsx

    path.write_bytes(report_xlsx(rep, title=f"{source.name} → 图层 {rep.layer} 导入检查报告"))
    console.print(f"检查报告已保存到 {path}", markup=False, highlight=False)


@app.command("template")
def template_cmd(
    layer: str = typer.Argument(..., help=f"图层：{', '.join(importable_layers())}"),
    out_path: Path | None = typer.Option(None, "--out", "-o", help="输出 XLSX 文件（默认 <图层>_模板.xlsx）"),
):
    """Write the XLSX import template of a layer (生成图层导入模板：中文表头、示例行、下拉选项)."""
    from geo_service.core.templates import template_xlsx

    with cli_errors():
        target = out_path or Path(f"{layer}_模板.xlsx")
        target.write_bytes(template_xlsx(layer))
        out.print(f"已生成导入模板 {target}")


@app.command("export")
def export_cmd(
    layer: str = typer.Argument(..., help="图层名"),
    fmt: str = typer.Option("geojson", "--format", "-f", help="geojson | gpkg | shp | csv | xlsx"),
    out_path: Path | None = typer.Option(None, "--out", "-o", help="输出文件（默认 <图层>.<格式>）"),
    crs: str = typer.Option("EPSG:4326", "--crs", help="输出坐标系，如 EPSG:4490（CGCS2000，正式成果用）"),
    plan: str | None = typer.Option(None, "--plan", help="社区划分方案（communities 图层）"),
    database_url: str | None = DbOpt,
):
    """Export a layer to a file (导出图层)."""
    from geo_service.core.exporter import export_layer

    with cli_errors():
        store = open_store(database_url)
        target = out_path or Path(f"{layer}.{'zip' if fmt == 'shp' else fmt}")
        path, n = export_layer(store, layer, fmt, target, crs=crs, plan=plan)
        out.print(f"已导出 {n} 个要素到 {path}（{fmt}，{crs}）")


@app.command("import-osm")
def import_osm_cmd(
    file: Path | None = typer.Argument(None, help=".osm、.osm.bz2 或 .osm.pbf 文件"),
    place: str | None = typer.Option(None, "--place", help="用地名在线下载（需要联网，使用 osmnx 地理编码）"),
    name: str | None = typer.Option(None, "--name", help="网络名称（默认取文件名）"),
    no_clip: bool = typer.Option(False, "--no-clip", help="不按数据范围裁剪"),
    all_components: bool = typer.Option(False, "--all-components", help="保留所有连通分量（默认只保留最大连通分量）"),
    database_url: str | None = DbOpt,
):
    """Build the walking network and OSM facilities from an extract (由 OSM 数据构建步行网络和设施)."""
    from geo_service.core.datasets import load_osm, store_osm

    with cli_errors():
        if (file is None) == (place is None):
            raise GeoServiceError(
                "give an OSM FILE or --place NAME", "请提供 OSM 文件，或用 --place 指定地名（二选一）"
            )
        store = open_store(database_url)
        t0 = time.perf_counter()
        with progress("导入 OSM") as (p, task):

            def cb(stage, f):
                p.update(task, completed=f, description=stage)

            if place:
                from geo_service.core.osm import read_osm_place

                data = read_osm_place(place)
                summary = store_osm(store, data, name=name or place, progress=cb)
            else:
                summary = load_osm(
                    store,
                    file,
                    name=name,
                    clip_to_bounds=not no_clip,
                    largest_component=not all_components,
                    progress=cb,
                )
        out.print(
            summary.line_zh(f"OSM 导入完成（网络编号 {summary.network_id}）")
            + f"，用时 {time.perf_counter() - t0:.1f} 秒"
        )
        for note in summary.notes_zh:
            console.print("[yellow]提示：[/yellow]", end="")
            plain(note)


@app.command("import-elevation")
def import_elevation_cmd(
    file: Path = typer.Argument(..., help="高程栅格（GeoTIFF，单波段，单位米，任意坐标系）"),
    network: str | None = typer.Option(None, "--network", help="步行网络编号或名称（默认最新的网络）"),
    database_url: str | None = DbOpt,
):
    """Node elevations of the walking network from a raster (导入高程栅格：坡道步行时间、轮椅坡度限制)."""
    from geo_service.core.elevation import import_elevation

    with cli_errors():
        store = open_store(database_url)
        t0 = time.perf_counter()
        result = import_elevation(store, file, network, actor=cli_actor())
        out.print(result.message_zh() + f"，用时 {time.perf_counter() - t0:.1f} 秒")


@app.command("sample-city")
def sample_city_cmd(
    scale: float = typer.Option(
        1.0, "--scale", min=0.01, help="规模倍数：1 约 2,000 个居住单元、60 万人；500 约 100 万个单元"
    ),
    seed: int = typer.Option(0, "--seed", help="随机种子（相同参数生成相同城市）"),
    database_url: str | None = DbOpt,
):
    """Load the synthetic sample city centred on Deyang (写入合成示例城市，非真实数据)."""
    from geo_service.core.datasets import load_sample_city

    with cli_errors():
        store = open_store(database_url)
        t0 = time.perf_counter()
        with progress("示例城市") as (p, task):
            summary = load_sample_city(
                store, scale=scale, seed=seed, progress=lambda stage, f: p.update(task, completed=f, description=stage)
            )
        out.print(summary.line_zh("示例城市（合成数据）已写入") + f"，用时 {time.perf_counter() - t0:.1f} 秒")


@app.command("info")
def info_cmd(database_url: str | None = DbOpt):
    """Show the database, its schema revision and the dataset metadata (显示数据库信息)."""
    with cli_errors():
        store = open_store(database_url)
        out.print(
            json.dumps(
                {
                    "health": store.health(),
                    "metadata": store.get_metadata(),
                    "networks": [
                        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in n.items()}
                        for n in store.list_networks()
                    ],
                },
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
