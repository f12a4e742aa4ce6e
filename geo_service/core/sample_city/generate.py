"""The pipeline of the sample city generator: one call per stage, each with its own random generator."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._facility_blocks import FacilityInputs
from ._names import name_lattice_lines
from ._sites import SiteBlocks
from .assemble import (
    build_admin_areas,
    build_communities_layer,
    build_gap_layers,
    build_population_units,
    city_counts,
    city_metadata,
    deliberate_gaps,
)
from .barriers import carve_barriers
from .buildings import build_buildings
from .city import SampleCity
from .communities import build_communities
from .facilities import build_facilities
from .hazards import build_hazards
from .land_use import assign_land_use, target_residents
from .lattice import build_lattice, make_projection
from .network import lattice_edges, walking_network
from .parcels import build_developments, build_plan_parcels
from .population import build_units
from .roads import build_barriers, build_roads
from .shelters import build_shelters
from .streets import build_streets

STAGES = (
    "lattice",
    "barriers",
    "streets",
    "land_use",
    "population_units",
    "communities",
    "facilities",
    "shelters",
    "plan_parcels",
    "developments",
    "network",
    "roads",
    "assemble",
)
#: Stages reported to ``progress``, in order: :data:`STAGES` (one generator each) with ``buildings``, which draws
#: from a generator of its own (``default_rng([seed, 14])``) so that adding it changed no other stage's draws.
PROGRESS_STAGES = (*STAGES[:-1], "buildings", STAGES[-1])


class _Stages:
    """Reports ``progress(stage_name, fraction)`` at the start of each stage."""

    def __init__(self, progress: Callable[[str, float], None] | None, names: tuple[str, ...]) -> None:
        self.progress = progress
        self.names = list(names)
        self.i = 0

    def __call__(self, name: str) -> None:
        if self.progress is not None:
            self.progress(name, self.i / len(self.names))
        self.i += 1

    def done(self) -> None:
        if self.progress is not None:
            self.progress("done", 1.0)


def stage_rngs(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per stage, spawned from ``(seed, 20240531)``."""
    children = np.random.SeedSequence([int(seed), 20240531]).spawn(len(STAGES))
    return {name: np.random.default_rng(s) for name, s in zip(STAGES, children)}


def generate_sample_city(
    scale: float = 1.0,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
) -> SampleCity:
    """Generate the synthetic Deyang sample city.

    Parameters
    ----------
    scale : float
        Multiplies the area and every count (scale 1: about 4.9 km x 4.9 km, 2,000 units,
        600,000 residents, 125 communities, 11 streets).
    seed : int
        Random seed; the output is a pure function of ``(scale, seed)``.
    progress : callable, optional
        ``progress(stage_name, fraction)`` called at the start of each stage
        and with ``("done", 1.0)`` at the end.

    Returns
    -------
    SampleCity
        Every layer in EPSG:4326 (built in EPSG:4544, m); areas in m², lengths in m.
    """
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    stage = _Stages(progress, PROGRESS_STAGES)
    rngs = stage_rngs(seed)
    proj = make_projection()
    stage("lattice")
    lattice = build_lattice(scale, proj, rngs["lattice"])
    stage("barriers")
    barriers = carve_barriers(lattice, rngs["barriers"])
    stage("streets")
    streets = build_streets(lattice, barriers.cell_type, rngs["streets"])
    stage("land_use")
    land = assign_land_use(lattice, proj, barriers.cell_type, streets.street, scale, rngs["land_use"])
    cell_type, tf, target_res = land.cell_type, land.cell_type.ravel(), target_residents(scale)
    stage("population_units")
    units = build_units(lattice, proj, cell_type, streets.street, target_res, rngs["population_units"])
    stage("communities")
    comms = build_communities(lattice, proj, streets, units, rngs["communities"])
    stage("facilities")
    rng = rngs["facilities"]
    names = name_lattice_lines(lattice, proj, rng)
    fi = FacilityInputs(lattice, proj, tf, streets, units, comms, target_res, rng, SiteBlocks(rng))
    fac = build_facilities(fi, names, scale)
    stage("shelters")
    shelters = build_shelters(
        lattice, proj, tf, streets, units, fac.parks, fac.school_name, land.n_central, names, rngs["shelters"]
    )
    stage("plan_parcels")
    plan_parcels = build_plan_parcels(lattice, tf, streets.county_idx, fac.small_parcels)
    stage("developments")
    developments = build_developments(lattice, tf, units, scale, rngs["developments"])
    stage("network")
    edges = lattice_edges(lattice, cell_type, names, rngs["network"])
    network = walking_network(lattice, proj, tf, edges, rngs["network"])
    stage("roads")
    roads = build_roads(lattice, edges)
    barrier_layer = build_barriers(lattice, proj, cell_type, barriers.rail_col)
    stage("buildings")
    population_units = build_population_units(lattice, streets, units)
    buildings = build_buildings(lattice, proj, tf, units, population_units["source_id"].to_numpy(), seed)
    stage("assemble")
    city = SampleCity(
        admin_areas=build_admin_areas(lattice, streets, units, rngs["roads"]),  # sic: the roads generator
        population_units=population_units,
        communities=build_communities_layer(lattice, streets, units, comms),
        facilities=fac.facilities,
        shelters=shelters,
        plan_parcels=plan_parcels,
        developments=developments,
        roads=roads,
        barriers=barrier_layer,
        network_nodes=network.nodes,
        network_edges=network.edges,
        buildings=buildings,
    )
    # stages 14 and 15 draw from generators of their own: no other layer changes
    city.idle_assets, city.space_candidates = build_gap_layers(population_units, fac.facilities, seed, scale)
    city.hazards = build_hazards(city.admin_areas, barrier_layer, seed)
    counts = city_counts(city, streets, units, comms, network)
    gaps = deliberate_gaps(proj, fac.kg_gap_xy, fac.edc_gap_r, units, streets, fac.sports_gap)
    city.metadata = city_metadata(
        scale, seed, counts, streets.county_codes, (lattice.ny, lattice.nx), gaps, fac.at_risk_ids
    )
    stage.done()
    return city
