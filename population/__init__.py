"""Population units with integer residents and households from buildings, compounds and official totals (issue 14).

Layout: ``params`` (:class:`UnitsParams`, reading totals tables), ``weights`` (residential floor area of buildings,
raster zonal sums), ``units`` (unit geometry: compounds, street blocks, buildings), ``allocate`` (top-down
largest-remainder integers over nested tiers), ``compute`` (the pure :func:`compute_units`), ``service`` (store
reads, the one-transaction write of ``population_units`` and the run). Independent of ``facilities`` and
``boundaries``.
"""

from .allocate import largest_remainder
from .compute import UnitsResult, compute_units, summary_lines
from .params import UnitsParams

__all__ = ["UnitsParams", "UnitsResult", "compute_units", "largest_remainder", "summary_lines"]
