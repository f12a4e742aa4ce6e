"""What-if scenarios (issue 17): ``geo-service scenario …``."""

from __future__ import annotations

import typer

app = typer.Typer(help="情景分析：在现状图层上叠加的变更方案 / What-if scenarios.", no_args_is_help=True)
