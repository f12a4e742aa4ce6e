"""Command line: ``geo-service``.

One typer tree: the root app merges the sub-apps of each task (data, service, users, boundary plans, facilities).
Every command has ``--help``. Long commands show a progress bar and end with a one-line summary; errors print a
Chinese message and exit non-zero (:func:`geo_service.cli._common.cli_errors`).
"""

from __future__ import annotations

import typer

from . import (
    batch,
    bootstrap,
    data,
    facilities,
    fairness,
    gap_plan,
    plans,
    report,
    resident,
    scenarios,
    serve,
    shelters,
    units,
    users,
)

app = typer.Typer(
    help="社区治理空间规划与设施服务 / Geospatial planning and facilities service for community governance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app)
app.add_typer(serve.app)
app.add_typer(plans.app)
app.add_typer(facilities.app)
app.add_typer(users.app, name="user")
app.add_typer(units.app, name="units")
app.add_typer(bootstrap.app)
app.add_typer(shelters.app)
app.add_typer(resident.app)
app.add_typer(report.app)
app.add_typer(fairness.app)
app.add_typer(gap_plan.app)
app.add_typer(batch.app)
app.add_typer(scenarios.app, name="scenario")


def main() -> None:  # pragma: no cover
    app()
