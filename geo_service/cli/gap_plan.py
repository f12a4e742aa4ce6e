"""Art. 18 gap closing (issue 19)."""

from __future__ import annotations

import typer

app = typer.Typer(help="条例第十八条：缺口补足方案 / Closing community space gaps (Art. 18).", no_args_is_help=True)
