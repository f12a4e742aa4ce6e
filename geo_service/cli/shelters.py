"""避难场所情景与张贴图 / Shelter scenarios and posters (issue 16)."""

from __future__ import annotations

import typer

app = typer.Typer(help="避难场所情景与张贴图 / Shelter scenarios and posters (issue 16)", no_args_is_help=True)
