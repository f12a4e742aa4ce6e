"""居民端静态导出 / Static export of the resident site (issue 16)."""

from __future__ import annotations

import typer

app = typer.Typer(help="居民端静态导出 / Static export of the resident site (issue 16)", no_args_is_help=True)
