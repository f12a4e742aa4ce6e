"""Stage 8: emergency shelters in parks, squares, schools and compounds."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np

from ._constants import MIDDLE, PRIMARY, SQUARE
from ._facility_blocks import Parks
from ._names import LineNames, address_of
from ._util import combo_names, concat_columns, ids, lognorm, point_outside_ne
from .lattice import Lattice, Projection, sites_lonlat
from .population import Units
from .streets import Streets

#: Parks of at least this area (m²) are fixed shelters (固定避难场所), smaller ones emergency shelters.
FIXED_PARK_M2 = 20_000


class _ShelterBlocks:
    """Shelter sites collected block by block; missing statuses are drawn from ``rng``."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.blocks: list[dict[str, np.ndarray]] = []

    def add(
        self, cells: np.ndarray, names: Any, cls: Any, eff: Any, u: Any, v: Any, poly: Any, status: Any = None
    ) -> None:
        """Add shelters: effective area ``eff`` (m²), position (u, v) in the cell, optional polygon."""
        k = cells.size
        if k == 0:
            return
        if status is None:
            rr = self.rng.random(k)
            status = np.where(rr < 0.92, "existing", np.where(rr < 0.95, "under_construction", "planned"))
        self.blocks.append(
            dict(
                cell=cells,
                name=np.asarray(names).astype(object),
                cls=np.asarray(cls).astype(object),
                eff=np.round(np.asarray(eff, float)),
                u=np.asarray(u, float),
                v=np.asarray(v, float),
                poly=np.asarray(poly, dtype=object),
                status=np.asarray(status).astype(object),
            )
        )


def _park_shelters(sh: _ShelterBlocks, parks: Parks, n_central: int) -> None:
    """Park shelters: central (the largest and the central park), fixed (≥ 2 ha) or emergency."""
    rng, n_parks, park_area = sh.rng, parks.n_parks, parks.area
    if not n_parks:
        return
    eff = park_area * rng.uniform(0.45, 0.65, n_parks)
    cls = np.where(park_area >= FIXED_PARK_M2, "fixed", "emergency")
    cls[np.argsort(-park_area, kind="stable")[:n_central]] = "central"
    cls[parks.central] = "central"
    poly = parks.poly.copy()
    poly[~((cls != "emergency") | (rng.random(n_parks) < 0.5))] = None
    pt_u = np.full(n_parks, 0.5)
    # points: representative point of the park polygon, expressed via the first cell centre
    suffix = np.where(cls == "central", "中心避难场所", np.where(cls == "fixed", "固定避难场所", "应急避难场所"))
    names = np.strings.add(parks.names, suffix)
    sh.add(parks.first, names, cls, eff, pt_u, pt_u, poly, status=np.full(n_parks, "existing"))


def _cell_shelters(
    sh: _ShelterBlocks, tf: np.ndarray, cell_area: np.ndarray, school_name: np.ndarray, units: Units
) -> None:
    """Shelters on squares, middle schools, half the primary schools (60 % of them fixed) and about 6 % of the
    compounds."""
    rng = sh.rng
    sq = np.flatnonzero(tf == SQUARE)
    names = combo_names(rng, sq.size, "广场紧急避难场所")
    eff = cell_area[sq] * rng.uniform(0.5, 0.7, sq.size)
    half = np.full(sq.size, 0.5)
    sh.add(sq, names, np.full(sq.size, "emergency"), eff, half, half, np.full(sq.size, None))
    ms = np.flatnonzero(tf == MIDDLE)
    eff = cell_area[ms] * rng.uniform(0.35, 0.5, ms.size)
    names = np.strings.add(school_name[ms].astype(str), "固定避难场所")
    at = np.full(ms.size, 0.3)
    sh.add(ms, names, np.full(ms.size, "fixed"), eff, at, at, np.full(ms.size, None))
    ps = np.flatnonzero(tf == PRIMARY)
    ps = ps[rng.random(ps.size) < 0.5]
    eff = cell_area[ps] * rng.uniform(0.3, 0.4, ps.size)
    ps_cls = np.where(rng.random(ps.size) < 0.6, "fixed", "emergency")
    names = np.strings.add(school_name[ps].astype(str), np.where(ps_cls == "fixed", "固定避难场所", "紧急避难场所"))
    at = np.full(ps.size, 0.3)
    sh.add(ps, names, ps_cls, eff, at, at, np.full(ps.size, None))
    oc = units.unit_cell[rng.random(units.n_units) < 0.06]
    ou, ov = point_outside_ne(rng, oc.size)
    names = np.strings.add(units.unit_names[units.unit_of_cell[oc]], "紧急避难场所")
    eff = lognorm(rng, 1800, 0.45, oc.size)
    sh.add(oc, names, np.full(oc.size, "emergency"), eff, ou, ov, np.full(oc.size, None))


def build_shelters(
    lattice: Lattice,
    proj: Projection,
    tf: np.ndarray,
    streets: Streets,
    units: Units,
    parks: Parks,
    school_name: np.ndarray,
    n_central: int,
    names: LineNames,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Create the emergency shelters layer.

    Parameters
    ----------
    lattice, proj : Lattice, Projection
        The lattice (EPSG:4544, m; cell areas in m²) and the CRS conversion.
    tf : numpy.ndarray
        Cell types (flat) after stage 4.
    streets, units : Streets, Units
        For addresses and compound names.
    parks, school_name : Parks, numpy.ndarray
        Parks and school names from stage 7.
    n_central : int
        Number of central shelters (about one per 500,000 residents).
    names : LineNames
        Road names (for the addresses).
    rng : numpy.random.Generator
        The generator of the ``shelters`` stage.

    Returns
    -------
    geopandas.GeoDataFrame
        Shelters (EPSG:4326): effective area (m²) and capacity (persons: 1.5 m² per person for
        emergency shelters, 2 m² for fixed and central ones).
    """
    sh = _ShelterBlocks(rng)
    _park_shelters(sh, parks, n_central)
    _cell_shelters(sh, tf, lattice.cell_area, school_name, units)
    cols = concat_columns(sh.blocks)
    n_sh = cols["cell"].size
    sgeom = sites_lonlat(lattice, proj, cols["cell"], cols["u"], cols["v"], cols["poly"])
    per_person = np.where(cols["cls"] == "emergency", 1.5, 2.0)
    return gpd.GeoDataFrame(
        {
            "source_id": ids("sample:shelter:", n_sh),
            "name": cols["name"],
            "shelter_class": cols["cls"],
            "effective_area_m2": cols["eff"],
            "capacity_persons": np.floor(cols["eff"] / per_person).astype(np.int64),
            "status": cols["status"],
            "address": address_of(cols["cell"], lattice, streets, names, rng),
        },
        geometry=sgeom,
        crs=4326,
    )
