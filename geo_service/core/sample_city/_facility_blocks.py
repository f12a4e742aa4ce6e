"""The facility sites of stage 7, by level: community, residents, street, schools and parks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ._constants import CELL_MARGIN, GOV, KG_GAP_R, MIDDLE, PARK, PRIMARY
from ._sites import SiteBlocks, SmallParcels, slot_quads
from ._util import bilinear, combo_names, group_starts, group_union, is_land, lognorm, point_outside_ne, shoelace
from .communities import Communities
from .lattice import Lattice, Projection
from .population import Units
from .streets import Streets

# category, rate per community, name suffix, floor area median (m²), sigma, opening hours
_COMMUNITY_LEVEL = [
    ("community_service_station", 0.85, "综合服务站", 850, 0.35, "09:00-17:30"),
    ("health_station", 0.75, "卫生服务站", 160, 0.35, "08:00-18:00"),
    ("culture_station", 0.6, "文化活动站", 300, 0.4, "09:00-21:00"),
    ("canteen", 0.45, "长者食堂", 200, 0.35, "11:00-13:00,17:00-19:00"),
    ("express_station", 0.9, "快递驿站", 60, 0.4, "09:00-20:00"),
    ("elderly_day_care", 0.55, "日间照料中心", 420, 0.35, "08:00-18:00"),
    ("nursery", 0.5, "托育园", 260, 0.35, "07:30-18:00"),
    ("embedded_service", 0.3, "嵌入式服务中心", 750, 0.3, "08:00-20:00"),
]
# category, residents per site, name suffix, floor area median (m²), sigma, opening hours
_PER_RESIDENTS: list[tuple[str, int, str, int, float, str | None]] = [
    ("convenience_store", 1_500, "便利店", 80, 0.4, "00:00-24:00"),
    ("pharmacy", 3_000, "大药房", 90, 0.35, "08:00-22:00"),
    ("supermarket", 8_000, "综合超市", 380, 0.4, "07:30-22:00"),
    ("market", 15_000, "农贸市场", 1_500, 0.4, "06:00-19:00"),
    ("elderly_home", 40_000, "养老院", 3_500, 0.5, None),
]
# category, rate per street, name suffix, floor area median (m²), opening hours
_STREET_LEVEL = [
    ("street_office", 1.0, "办事处", 3_000, "09:00-17:30"),
    ("community_service_center", 1.0, "社区服务中心", 2_500, "09:00-17:30"),
    ("culture_center", 1.0, "文化活动中心", 3_000, "09:00-21:00"),
    ("health_center", 1.0, "社区卫生服务中心", 2_500, "08:00-18:00"),
    ("sports_center", 0.6, "体育活动中心", 4_000, "08:00-21:00"),
]


@dataclass(frozen=True)
class FacilityInputs:
    """What the facility stage reads: the city so far, its generator and the site accumulator."""

    lattice: Lattice
    proj: Projection
    tf: np.ndarray  # cell types (flat) after stage 4
    streets: Streets
    units: Units
    comms: Communities
    target_res: float  # residents
    rng: np.random.Generator
    sites: SiteBlocks


@dataclass(frozen=True)
class Parks:
    """Parks: groups of 4-connected park cells (area in m², polygons in EPSG:4326).

    ``central`` is the park nearest the city centre (``-1`` if there are no parks).
    """

    n_parks: int
    poly: np.ndarray
    area: np.ndarray
    first: np.ndarray  # first cell of each park
    names: np.ndarray
    central: int


def outside_gaps(lattice: Lattice, cells: np.ndarray, centres: np.ndarray, radius: float) -> np.ndarray:
    """Mask of ``cells`` whose centre is farther than ``radius`` (m) from every gap centre."""
    if centres.size == 0 or cells.size == 0:
        return np.ones(cells.size, bool)
    d, _ = cKDTree(centres).query(np.column_stack([lattice.cell_x[cells], lattice.cell_y[cells]]))
    return d > radius


def community_sites(fi: FacilityInputs, edc_gap_r: float) -> None:
    """Offices (90 % of communities) and community-level stations; no day care in the old centre gap."""
    rng, comms, unit_cell, sites = fi.rng, fi.comms, fi.units.unit_cell, fi.sites
    comm_ids = np.arange(comms.n_comm)
    sel = comm_ids[comms.has_office]
    uu = comms.random_unit_of(sel, rng)
    sites.add(
        "community_office",
        unit_cell[uu],
        np.strings.add(comms.comm_names[sel], "居民委员会"),
        floor=lognorm(rng, 380, 0.35, sel.size),
        status=np.full(sel.size, "existing"),
        hours="09:00-17:30",
    )
    for cat, rate, suffix, med, sig, hours in _COMMUNITY_LEVEL:
        sel = comm_ids[rng.random(comms.n_comm) < rate]
        uu = comms.random_unit_of(sel, rng)
        cells = unit_cell[uu]
        cap = None
        if cat == "elderly_day_care":
            keep = outside_gaps(fi.lattice, cells, np.array([[fi.proj.x0, fi.proj.y0]]), edc_gap_r + CELL_MARGIN)
            sel, uu, cells = sel[keep], uu[keep], cells[keep]
            cap = rng.integers(15, 61, sel.size)
        elif cat == "nursery":
            cap = rng.integers(20, 121, sel.size)
        names = np.strings.add(comms.comm_names[sel], suffix)
        sites.add(cat, cells, names, floor=lognorm(rng, med, sig, sel.size), cap=cap, hours=hours)


def sports_grounds(fi: FacilityInputs) -> None:
    """Sports grounds of 70 % of communities: land area (m²), about a third drawn as polygons (SW quadrant)."""
    rng, comms, lattice = fi.rng, fi.comms, fi.lattice
    sel = np.arange(comms.n_comm)[rng.random(comms.n_comm) < 0.7]
    cells = fi.units.unit_cell[comms.random_unit_of(sel, rng)]
    k = cells.size
    half = np.sqrt(lognorm(rng, 1500, 0.4, k) / lattice.cell_area[cells]) / 2
    half = np.clip(half, 0.05, 0.2)
    cu, cv = rng.uniform(0.22, 0.28, k), rng.uniform(0.22, 0.28, k)
    qx, qy = bilinear(
        lattice.cx[cells][:, None, :],
        lattice.cy[cells][:, None, :],
        np.stack([cu - half, cu + half, cu + half, cu - half], 1),
        np.stack([cv - half, cv - half, cv + half, cv + half], 1),
    )
    sg_area = shoelace(qx, qy)
    as_poly = rng.random(k) < 0.35
    polys = np.full(k, None, dtype=object)
    if as_poly.any():
        polys[as_poly] = fi.proj.quads_lonlat(qx[as_poly], qy[as_poly])
    fi.sites.add(
        "sports_ground",
        cells,
        np.strings.add(comms.comm_names[sel], "健身广场"),
        land=np.round(sg_area),
        hours="06:00-22:00",
        u=cu,
        v=cv,
        poly=polys,
    )


def kindergartens(fi: FacilityInputs, kg_gap_xy: np.ndarray, slot_used: np.ndarray) -> SmallParcels:
    """Kindergartens (one per 5,500 residents, none near the gaps); 70 % get a small parcel (about 3,900 m²).

    Marks the used small-parcel slots in ``slot_used`` and returns the kindergarten parcels.
    """
    rng, units, lattice = fi.rng, fi.units, fi.lattice
    n_kg = int(round(fi.target_res / 5_500))
    n_units, residents = units.n_units, units.residents
    uu = rng.choice(n_units, size=n_kg, p=residents / residents.sum()) if n_units else np.zeros(0, int)
    cells = units.unit_cell[uu]
    keep = outside_gaps(lattice, cells, kg_gap_xy, KG_GAP_R + 300.0 + CELL_MARGIN)
    cells = cells[keep]
    k = cells.size
    classes = rng.integers(4, 13, k)
    kg_names = combo_names(rng, k, "幼儿园")
    kg_floor = lognorm(rng, 2600, 0.3, k)
    rr = rng.random(k)
    kg_status = np.where(rr < 0.92, "existing", np.where(rr < 0.96, "under_construction", "planned"))
    # the small-parcel slot (NE quadrant of the cell) is used at most once per cell
    _, first_idx = np.unique(cells, return_index=True)
    has_parcel = np.zeros(k, bool)
    has_parcel[first_idx] = True
    has_parcel &= rng.random(k) < 0.7
    slot_used[cells[has_parcel]] = True

    pc = cells[has_parcel]
    qx, qy, cu, cv = slot_quads(lattice, pc, lognorm(rng, 3900, 0.2, pc.size), rng)
    kg_land = np.full(k, np.nan)
    kg_land[has_parcel] = np.round(shoelace(qx, qy))
    kg_land[~has_parcel] = lognorm(rng, 3200, 0.3, int((~has_parcel).sum()))  # private, inside compounds
    kg_poly_all = fi.proj.quads_lonlat(qx, qy) if pc.size else np.zeros(0, dtype=object)
    ku, kv = point_outside_ne(rng, k)
    ku[has_parcel], kv[has_parcel] = cu, cv
    kpoly = np.full(k, None, dtype=object)
    draw_poly = rng.random(int(has_parcel.sum())) < 0.5
    tmp = np.full(int(has_parcel.sum()), None, dtype=object)
    tmp[draw_poly] = kg_poly_all[draw_poly]
    kpoly[has_parcel] = tmp
    fi.sites.add(
        "kindergarten",
        cells,
        kg_names,
        floor=kg_floor,
        land=kg_land,
        cap=classes * 30,
        status=kg_status,
        u=ku,
        v=kv,
        poly=kpoly,
    )
    return SmallParcels(
        cell=pc,
        poly=kg_poly_all,
        area=shoelace(qx, qy),
        code=np.full(pc.size, "080404"),
        use=np.full(pc.size, "幼儿园用地"),
        status=np.where(kg_status[has_parcel] == "existing", "existing", "planned"),
    )


def resident_sites(fi: FacilityInputs) -> None:
    """Shops, pharmacies, markets and elderly homes placed with probability ∝ residents."""
    rng, units = fi.rng, fi.units
    n_units, residents = units.n_units, units.residents
    for cat, per, suffix, med, sig, hours in _PER_RESIDENTS:
        k = int(round(fi.target_res / per))
        if k == 0 or n_units == 0:
            continue
        uu = rng.choice(n_units, size=k, p=residents / residents.sum())
        cap = rng.integers(50, 401, k) if cat == "elderly_home" else None
        land = lognorm(rng, 4500, 0.4, k) if cat == "elderly_home" else None
        names = combo_names(rng, k, suffix)
        fi.sites.add(cat, units.unit_cell[uu], names, floor=lognorm(rng, med, sig, k), land=land, cap=cap, hours=hours)


def public_toilets(fi: FacilityInputs) -> None:
    """Public toilets (one per 5,000 residents) on any land cell, uniform by area."""
    rng, cell_area = fi.rng, fi.lattice.cell_area
    k = int(round(fi.target_res / 5_000))
    land_cells_now = np.flatnonzero(is_land(fi.tf))
    cells = land_cells_now[
        rng.choice(land_cells_now.size, size=k, p=cell_area[land_cells_now] / cell_area[land_cells_now].sum())
    ]
    names = combo_names(rng, k, "公厕")
    fi.sites.add("public_toilet", cells, names, floor=lognorm(rng, 50, 0.3, k), hours="00:00-24:00")


def _street_host(fi: FacilityInputs, sts: np.ndarray) -> np.ndarray:
    """Host cell of a street-level site: a government cell of the street if any, else a random unit."""
    rng, streets, units = fi.rng, fi.streets, fi.units
    unit_cell, n_units = units.unit_cell, units.n_units
    su_order, su_count, su_start = group_starts(units.unit_street, streets.n_streets)
    gov_cells = np.flatnonzero(fi.tf == GOV)
    off = np.floor(rng.random(sts.size) * np.maximum(su_count[sts], 1)).astype(np.int64)
    host = unit_cell[su_order[np.minimum(su_start[sts] + off, n_units - 1)]]
    g_street = streets.street[gov_cells]
    gorder = np.argsort(g_street, kind="stable")
    gs = g_street[gorder]
    lo = np.searchsorted(gs, sts, side="left")
    hi = np.searchsorted(gs, sts, side="right")
    has = hi > lo
    pick_g = lo + np.floor(rng.random(sts.size) * np.maximum(hi - lo, 1)).astype(np.int64)
    host[has] = gov_cells[gorder[np.minimum(pick_g[has], gs.size - 1)]]
    return host


def street_sites(fi: FacilityInputs) -> None:
    """Street-level (15-minute circle) facilities, preferably on the street's government cells."""
    rng, streets = fi.rng, fi.streets
    street_ids = np.arange(streets.n_streets)
    for cat, rate, suffix, med, hours in _STREET_LEVEL:
        sts = street_ids[rng.random(streets.n_streets) < rate] if rate < 1 else street_ids
        if sts.size == 0:
            sts = street_ids[:1]
        fi.sites.add(
            cat,
            _street_host(fi, sts),
            np.strings.add(streets.street_names[sts], suffix),
            floor=lognorm(rng, med, 0.3, sts.size),
            status=np.full(sts.size, "existing"),
            hours=hours,
        )


def schools(fi: FacilityInputs) -> np.ndarray:
    """Primary and middle schools on the school cells, drawn as polygons; returns the school name per cell."""
    rng, lattice = fi.rng, fi.lattice
    school_name = np.full(lattice.n_cells, "", dtype=object)
    for cat, kind, suffix, per_class, cls_lo, cls_hi in (
        ("primary_school", PRIMARY, "小学", 45, 12, 55),
        ("middle_school", MIDDLE, "中学", 50, 12, 49),
    ):
        cells = np.flatnonzero(fi.tf == kind)
        k = cells.size
        qx, qy = bilinear(
            lattice.cx[cells][:, None, :],
            lattice.cy[cells][:, None, :],
            np.array([0.06, 0.94, 0.94, 0.06]),
            np.array([0.06, 0.06, 0.94, 0.94]),
        )
        snames = combo_names(rng, k, suffix)
        school_name[cells] = snames
        fi.sites.add(
            cat,
            cells,
            snames,
            floor=lognorm(rng, 14_000 if kind == MIDDLE else 11_000, 0.3, k),
            land=np.round(shoelace(qx, qy)),
            cap=rng.integers(cls_lo, cls_hi, k) * per_class,
            status=np.full(k, "existing"),
            u=np.full(k, 0.5),
            v=np.full(k, 0.5),
            poly=fi.proj.quads_lonlat(qx, qy) if k else None,
        )
    return school_name


def parks(fi: FacilityInputs) -> Parks:
    """Parks: groups of 4-connected park cells; the one nearest the centre is 示例中央公园."""
    rng, lattice = fi.rng, fi.lattice
    cell_area, cell_x, cell_y = lattice.cell_area, lattice.cell_x, lattice.cell_y
    park_m = fi.tf == PARK
    plab = lattice.components(park_m, np.ones(lattice.pair_a.size, bool))
    park_cells = np.flatnonzero(park_m)
    _, park_group = np.unique(plab[park_cells], return_inverse=True)
    n_parks = int(park_group.max()) + 1 if park_cells.size else 0
    park_poly = group_union(lattice.cell_poly[park_cells], park_group, n_parks)
    park_area = np.bincount(park_group, weights=cell_area[park_cells], minlength=n_parks)
    park_first = np.full(n_parks, -1, dtype=np.int64)
    park_first[park_group[::-1]] = park_cells[::-1]
    park_names = combo_names(rng, n_parks, "公园")
    wx = np.bincount(park_group, weights=cell_x[park_cells] * cell_area[park_cells], minlength=n_parks)
    wy = np.bincount(park_group, weights=cell_y[park_cells] * cell_area[park_cells], minlength=n_parks)
    park_x = wx / np.maximum(park_area, 1)
    park_y = wy / np.maximum(park_area, 1)
    central_park = -1
    if n_parks:
        central_park = int(np.argmin(np.hypot(park_x - fi.proj.x0, park_y - fi.proj.y0) - 1e-3 * park_area))
        park_names[central_park] = "示例中央公园"
    fi.sites.add(
        "residential_park",
        park_first,
        park_names,
        land=np.round(park_area),
        status=np.full(n_parks, "existing"),
        hours="06:00-22:00",
        u=np.full(n_parks, 0.5),
        v=np.full(n_parks, 0.5),
        poly=park_poly,
    )
    return Parks(n_parks, park_poly, park_area, park_first, park_names, central_park)
