"""年度体检报告 / The annual report (issue 17)."""

from __future__ import annotations

import typer

app = typer.Typer(help="年度体检报告 / The annual report (issue 17)", no_args_is_help=True)
