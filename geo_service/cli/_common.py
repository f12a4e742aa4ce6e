"""What every command shares: the consoles, the database option, opening the store, Chinese error messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from geo_service.core._errors import GeoServiceError, ImportValidationError, InputError
from geo_service.core.storage import Store

console = Console(stderr=True)
out = Console(soft_wrap=True)

DbOpt = typer.Option(
    None, "--database-url", envvar="DATABASE_URL", help="数据库地址；默认使用数据目录下的 SpatiaLite 文件。"
)


def open_store(database_url: str | None = None, *, upgrade: bool = True) -> Store:
    """The store at ``database_url`` (default: the settings'), its schema upgraded to the newest migration."""
    store = Store(database_url)
    if upgrade:
        store.upgrade()
    return store


def plain(text: str, style: str | None = None) -> None:
    """Print user data verbatim: no markup, no highlighting, no wrapping inside lines."""
    console.print(text, markup=False, highlight=False, soft_wrap=True, style=style)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn service errors into a Chinese message and exit code 1."""
    try:
        yield
    except ImportValidationError as exc:
        console.print("[red]导入失败，未写入任何数据。[/red]")
        if not any(p.row <= 0 for p in exc.report.problems):  # problems of the whole file are listed just below
            plain(exc.message_zh)
        plain(exc.report.format_zh())
        raise typer.Exit(1) from None
    except GeoServiceError as exc:
        console.print("[red]错误：[/red]", end="")
        plain(exc.message_zh)
        plain(exc.message, style="dim")
        raise typer.Exit(1) from None


@contextmanager
def progress(description: str, total: float | None = None):
    """A progress bar on stderr; yields ``(progress, task)``."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as p:
        task = p.add_task(description, total=total or 1.0)
        yield p, task


def pct(x) -> str:
    """A share (0..1) as a percentage with one decimal; a dash for None."""
    return "—" if x is None else f"{x * 100:.1f}%"


OUTPUT_FORMATS = {".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson", ".zip": "shp", ".shp": "shp"}


def format_of(path: Path) -> str:
    """The vector file format named by an output file's suffix (gpkg, geojson or shp)."""
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"output file must end in .gpkg, .geojson or .zip, got {path.name}",
            f"输出文件扩展名应为 .gpkg、.geojson 或 .zip（Shapefile），收到 {path.name}",
        )
    return fmt
