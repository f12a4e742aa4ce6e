"""居民端静态导出 / Static export of the resident site (issue 16): ``geo-service export-resident --out DIR``."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import typer

from ._common import DbOpt, cli_errors, open_store, plain, progress

app = typer.Typer(help="居民端静态导出 / Static export of the resident site (issue 16)", no_args_is_help=True)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} KB"


@app.command("export-resident")
def export_resident_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="输出文件夹（新建或以前导出的文件夹）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON 摘要"),
    database_url: str | None = DbOpt,
):
    """Write the resident page as static files: page, tiles, per-area answers (导出离线可用的居民查询页静态网站)."""
    from maps.resident_export import export_resident

    with cli_errors(), ExitStack() as stack:
        store = open_store(database_url)

        def make_progress(label: str, total: int):
            bar, task = stack.enter_context(progress(label, total))
            return lambda: bar.advance(task)

        manifest = export_resident(store, out, progress=None if as_json else make_progress)
        stack.close()
        if as_json:
            plain(json.dumps(manifest, ensure_ascii=False, indent=1))
            return
        t, a = manifest["tiles"], manifest["areas"]
        plain(
            f"居民查询页已导出到 {out}：共 {manifest['files']} 个文件，{_size(manifest['total_bytes'])}"
            f"（矢量瓦片 {t['files']} 个 {_size(t['bytes'])}，分区查询数据 {a['files']} 个 {_size(a['bytes'])}，"
            f"页面与脚本 {_size(manifest['assets_bytes'])}），{len(manifest['categories'])} 个类别，"
            f"用时 {manifest['seconds']} 秒。用任意静态网站服务器发布该文件夹即可（例如 python -m http.server）。"
        )
