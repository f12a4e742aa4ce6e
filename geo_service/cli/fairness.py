"""公平性与人群分组 / Fairness of access and groups of residents (issue 17)."""

from __future__ import annotations

import typer

app = typer.Typer(help="公平性与人群分组 / Fairness of access and groups of residents (issue 17)", no_args_is_help=True)
