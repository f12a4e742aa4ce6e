"""The facility sites of stage 7, by level: community, residents, street, schools and parks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ._constants import CELL_MARGIN, KG_GAP_R, MIDDLE, PARK, PRIMARY
from ._hubs import CornerSites, block_centres, community_corners, street_centres
from ._sites import SiteBlocks, SmallParcels, slot_quads
from ._util import bilinear, combo_names, group_union, is_land, lognorm, point_outside_ne, shoelace
from .communities import Communities
from .lattice import Lattice, Projection
from .population import Units
from .streets import Streets

# Facilities of the community service centre (社区综合服务站, at the community's corner, see ``_hubs``):
# category, name suffix, floor area median (m²), sigma, opening hours.  A centre lacks one of the 5-minute
# facilities with probability ``CENTRE_LACKS`` (the missing one drawn uniformly; sometimes only planned).
_CENTRE_5MIN = [
    ("community_service_station", "综合服务站", 950, 0.35, "09:00-17:30"),
    ("health_station", "卫生服务站", 160, 0.35, "08:00-18:00"),
    ("culture_station", "文化活动站", 300, 0.4, "09:00-21:00"),
    ("express_station", "快递驿站", 60, 0.4, "09:00-20:00"),
    ("elderly_day_care", "日间照料中心", 420, 0.35, "08:00-18:00"),
    ("nursery", "托育园", 260, 0.35, "07:30-18:00"),
    ("supermarket", "综合超市", 380, 0.4, "07:30-22:00"),
    ("public_toilet", "公厕", 50, 0.3, "00:00-24:00"),
]
#: Further 5-minute categories of the centre placed by their own functions (kindergarten, sports ground).
CENTRE_OTHER = ("kindergarten", "sports_ground")
CENTRE_LACKS = 0.08
#: Share of the centres' service stations, day care and childcare rooms across the street from the centre (the
#: same corner; often in the neighbouring community, which then counts them and the own community lacks them).
ACROSS_STREET_SHARE = 0.2
_ACROSS_STREET = ("community_service_station", "elderly_day_care", "nursery")
#: Share of the service stations that are makeshift rooms of about 250 m² (far below the 800 m² norm).
SMALL_STATION_SHARE = 0.35
# optional services of some centres: category, share of centres, name suffix, floor median (m²), sigma, hours
_CENTRE_OPTIONAL = [
    ("canteen", 0.45, "长者食堂", 200, 0.35, "11:00-13:00,17:00-19:00"),
    ("embedded_service", 0.3, "嵌入式服务中心", 750, 0.3, "08:00-20:00"),
]
# category, residents per site, name suffix, floor area median (m²), sigma, opening hours (besides the centres)
_PER_RESIDENTS: list[tuple[str, int, str, int, float, str | None]] = [
    ("convenience_store", 1_500, "便利店", 80, 0.4, "00:00-24:00"),
    ("pharmacy", 3_000, "大药房", 90, 0.35, "08:00-22:00"),
    ("supermarket", 15_000, "综合超市", 380, 0.4, "07:30-22:00"),
    ("express_station", 12_000, "快递驿站", 60, 0.4, "09:00-20:00"),
    ("elderly_home", 60_000, "养老院", 3_500, 0.5, None),
]
#: Share of super-blocks (between arterials, about 5,000 residents) with a market (菜市场) near their centre.
MARKET_SHARE = 0.85
# category, name suffix, floor area median (m²), opening hours: one per street at its centre
_STREET_LEVEL = [
    ("street_office", "办事处", 3_000, "09:00-17:30"),
    ("community_service_center", "社区服务中心", 2_500, "09:00-17:30"),
    ("culture_center", "文化活动中心", 3_000, "09:00-21:00"),
    ("health_center", "社区卫生服务中心", 2_500, "08:00-18:00"),
    ("sports_center", "体育活动中心", 4_000, "08:00-21:00"),
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


@dataclass(frozen=True)
class CentrePlan:
    """The community service centres: one street corner per community and what each centre lacks.

    ``lacks`` is the 5-minute category a centre lacks (``""``: none) and ``lack_status`` whether it is absent
    (``"absent"``) or only ``"planned"`` / ``"under_construction"`` there.
    """

    corners: CornerSites
    lacks: np.ndarray
    lack_status: np.ndarray

    @classmethod
    def draw(cls, fi: FacilityInputs) -> CentrePlan:
        """Corners from :func:`community_corners`; about ``CENTRE_LACKS`` of the centres lack one facility."""
        rng, n = fi.rng, fi.comms.n_comm
        corners = community_corners(fi.lattice, fi.units, fi.comms, rng)
        cats = np.array([c[0] for c in _CENTRE_5MIN] + list(CENTRE_OTHER))
        lacks = np.where(rng.random(n) < CENTRE_LACKS, cats[rng.integers(0, cats.size, n)], "").astype(object)
        rr = rng.random(n)
        lack_status = np.where(rr < 0.6, "absent", np.where(rr < 0.8, "planned", "under_construction")).astype(object)
        return cls(corners, lacks, lack_status)

    def sites_of(self, cat: str) -> tuple[np.ndarray, np.ndarray]:
        """Communities whose centre has ``cat`` (existing or not) and the status of each."""
        lacking = self.lacks == cat
        sel = np.flatnonzero(~(lacking & (self.lack_status == "absent")))
        return sel, np.where(lacking[sel], self.lack_status[sel], "existing").astype(object)


def community_sites(fi: FacilityInputs, plan: CentrePlan, edc_gap_r: float) -> None:
    """Offices (about 90 % of communities) and the 5-minute facilities at each community's service centre.

    No elderly day care within ``edc_gap_r`` (m) of the old centre (a deliberate gap).
    """
    rng, comms, sites, corners = fi.rng, fi.comms, fi.sites, plan.corners
    sel = np.flatnonzero(comms.has_office)
    u, v = corners.positions(rng)
    sites.add(
        "community_office",
        corners.cell[sel],
        np.strings.add(comms.comm_names[sel], "居民委员会"),
        floor=lognorm(rng, 380, 0.35, sel.size),
        status=np.full(sel.size, "existing"),
        hours="09:00-17:30",
        u=u[sel],
        v=v[sel],
    )
    across = corners.across_street(fi.lattice, fi.tf)
    for cat, suffix, med, sig, hours in _CENTRE_5MIN:
        sel, status = plan.sites_of(cat)
        # some rooms of a centre stand across the street, often in the neighbouring community
        moved = (rng.random(comms.n_comm) < ACROSS_STREET_SHARE) & (cat in _ACROSS_STREET)
        at = CornerSites(*(np.where(moved, a, b) for a, b in zip(
            (across.cell, across.cu, across.cv), (corners.cell, corners.cu, corners.cv))))  # fmt: skip
        u, v = at.positions(rng)
        cells = at.cell[sel]
        cap = None
        if cat == "elderly_day_care":
            keep = outside_gaps(fi.lattice, cells, np.array([[fi.proj.x0, fi.proj.y0]]), edc_gap_r + CELL_MARGIN)
            sel, status, cells = sel[keep], status[keep], cells[keep]
            cap = rng.integers(15, 61, sel.size)
        elif cat == "nursery":
            cap = rng.integers(20, 121, sel.size)
        names = np.strings.add(comms.comm_names[sel], suffix)
        floor = lognorm(rng, med, sig, sel.size)
        if cat == "community_service_station":  # some are makeshift rooms: communities short of service space
            small = rng.random(sel.size) < SMALL_STATION_SHARE
            floor[small] = lognorm(rng, 250, 0.3, int(small.sum()))
        sites.add(cat, cells, names, floor=floor, cap=cap, status=status, hours=hours, u=u[sel], v=v[sel])
    for cat, rate, suffix, med, sig, hours in _CENTRE_OPTIONAL:
        sel = np.flatnonzero(rng.random(comms.n_comm) < rate)
        u, v = corners.positions(rng)
        names = np.strings.add(comms.comm_names[sel], suffix)
        floor = lognorm(rng, med, sig, sel.size)
        sites.add(cat, corners.cell[sel], names, floor=floor, hours=hours, u=u[sel], v=v[sel])


def sports_grounds(fi: FacilityInputs, plan: CentrePlan) -> None:
    """A sports ground beside each community centre (land area, m²), about a third drawn as polygons."""
    rng, comms, lattice, corners = fi.rng, fi.comms, fi.lattice, plan.corners
    sel, status = plan.sites_of("sports_ground")
    cells = corners.cell[sel]
    k = cells.size
    half = np.sqrt(lognorm(rng, 1500, 0.4, k) / lattice.cell_area[cells]) / 2
    half = np.clip(half, 0.05, 0.16)
    gap = rng.uniform(0.01, 0.03, k)
    cu = np.where(corners.cu[sel] == 1, 1.0 - half - gap, half + gap)
    cv = np.where(corners.cv[sel] == 1, 1.0 - half - gap, half + gap)
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
        status=status,
        hours="06:00-22:00",
        u=cu,
        v=cv,
        poly=polys,
    )


def kindergartens(fi: FacilityInputs, plan: CentrePlan, kg_gap_xy: np.ndarray, slot_used: np.ndarray) -> SmallParcels:
    """Kindergartens: one beside each community centre and one per 15,000 residents elsewhere, none near the gaps.

    70 % of the others get a small parcel (about 3,900 m²).  Marks the used small-parcel slots in ``slot_used``
    and returns the kindergarten parcels.
    """
    rng, units, lattice, corners = fi.rng, fi.units, fi.lattice, plan.corners
    sel, centre_status = plan.sites_of("kindergarten")
    cu_c, cv_c = corners.positions(rng, 0.03, 0.12)
    n_extra = int(round(fi.target_res / 15_000))
    n_units, residents = units.n_units, units.residents
    uu = rng.choice(n_units, size=n_extra, p=residents / residents.sum()) if n_units else np.zeros(0, int)
    cells = np.concatenate([corners.cell[sel], units.unit_cell[uu]])
    is_centre = np.arange(cells.size) < sel.size
    keep = outside_gaps(lattice, cells, kg_gap_xy, KG_GAP_R + 300.0 + CELL_MARGIN)
    cells, is_centre = cells[keep], is_centre[keep]
    centre_status = centre_status[keep[: sel.size]]
    cu_c, cv_c = cu_c[sel][keep[: sel.size]], cv_c[sel][keep[: sel.size]]
    k = cells.size
    classes = rng.integers(4, 13, k)
    kg_names = combo_names(rng, k, "幼儿园")
    kg_floor = lognorm(rng, 2600, 0.3, k)
    rr = rng.random(k)
    kg_status = np.where(rr < 0.92, "existing", np.where(rr < 0.96, "under_construction", "planned")).astype(object)
    kg_status[is_centre] = centre_status
    # the small-parcel slot (NE quadrant of the cell) is used at most once per cell; centres' kindergartens have none
    _, first_idx = np.unique(cells, return_index=True)
    has_parcel = np.zeros(k, bool)
    has_parcel[first_idx] = True
    has_parcel &= (rng.random(k) < 0.7) & ~is_centre & ~slot_used[cells]
    slot_used[cells[has_parcel]] = True

    pc = cells[has_parcel]
    qx, qy, cu, cv = slot_quads(lattice, pc, lognorm(rng, 3900, 0.2, pc.size), rng)
    kg_land = np.full(k, np.nan)
    kg_land[has_parcel] = np.round(shoelace(qx, qy))
    kg_land[~has_parcel] = lognorm(rng, 3200, 0.3, int((~has_parcel).sum()))  # private, inside compounds
    kg_poly_all = fi.proj.quads_lonlat(qx, qy) if pc.size else np.zeros(0, dtype=object)
    ku, kv = point_outside_ne(rng, k)
    ku[is_centre], kv[is_centre] = cu_c, cv_c
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
    """Shops, pharmacies, further supermarkets and express stations, elderly homes: probability ∝ residents."""
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


def markets(fi: FacilityInputs) -> None:
    """Markets (菜市场) near the centre of ``MARKET_SHARE`` of the super-blocks (10-minute circle)."""
    rng = fi.rng
    centres = block_centres(fi.lattice, fi.tf, rng)
    cells = centres[: int(round(MARKET_SHARE * centres.size))]
    k = cells.size
    fi.sites.add("market", cells, combo_names(rng, k, "菜市场"), floor=lognorm(rng, 1_500, 0.4, k), hours="06:00-19:00")


def public_toilets(fi: FacilityInputs) -> None:
    """Public toilets besides the centres' (one per 10,000 residents) on any land cell, uniform by area."""
    rng, cell_area = fi.rng, fi.lattice.cell_area
    k = int(round(fi.target_res / 10_000))
    land_cells_now = np.flatnonzero(is_land(fi.tf))
    cells = land_cells_now[
        rng.choice(land_cells_now.size, size=k, p=cell_area[land_cells_now] / cell_area[land_cells_now].sum())
    ]
    names = combo_names(rng, k, "公厕")
    fi.sites.add("public_toilet", cells, names, floor=lognorm(rng, 50, 0.3, k), hours="00:00-24:00")


@dataclass(frozen=True)
class SportsGap:
    """The street without a sports centre (``street`` -1: none): its residents' centre (m, EPSG:4544) and the
    radius (m) of the disc around it without any sports centre."""

    street: int
    xy: tuple[float, float]
    radius_m: float


def street_sites(fi: FacilityInputs) -> SportsGap:
    """Street-level (15-minute circle) facilities at each street's centre and an elderly home near it.

    One street (drawn at random; none in a city of one street) has no sports centre: a deliberate gap.
    """
    rng, streets, units = fi.rng, fi.streets, fi.units
    n = streets.n_streets
    host = street_centres(fi.lattice, fi.tf, streets, units)
    no_sports = int(rng.integers(0, n)) if n > 1 else -1
    for cat, suffix, med, hours in _STREET_LEVEL:
        sts = np.arange(n)
        if cat == "sports_center":
            sts = sts[sts != no_sports]
        fi.sites.add(
            cat,
            host[sts],
            np.strings.add(streets.street_names[sts], suffix),
            floor=lognorm(rng, med, 0.3, sts.size),
            status=np.full(sts.size, "existing"),
            hours=hours,
        )
    central_unit = street_centres(fi.lattice, np.zeros_like(fi.tf), streets, units)
    fi.sites.add(
        "elderly_home",
        central_unit,
        np.strings.add(streets.street_names, "养老服务中心"),
        floor=lognorm(rng, 3_500, 0.5, n),
        land=lognorm(rng, 4500, 0.4, n),
        cap=rng.integers(50, 401, n),
        status=np.full(n, "existing"),
    )
    if no_sports < 0:
        return SportsGap(-1, (0.0, 0.0), 0.0)
    sel = units.unit_street == no_sports
    w = units.residents[sel].astype(float)
    cx, cy = float(np.average(units.ux[sel], weights=w)), float(np.average(units.uy[sel], weights=w))
    others = host[np.arange(n) != no_sports]
    d = np.hypot(fi.lattice.cell_x[others] - cx, fi.lattice.cell_y[others] - cy).min()
    return SportsGap(no_sports, (cx, cy), float(np.floor(d - CELL_MARGIN)))


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
