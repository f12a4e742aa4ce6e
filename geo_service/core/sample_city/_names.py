"""Names of the lattice lines (road names) and postal addresses of sites."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._constants import MOUNTAINS, RIVERS
from ._util import combo_names, sadd
from .lattice import Lattice, Projection
from .streets import Streets


@dataclass(frozen=True)
class LineNames:
    """Base names of the lattice lines and full names of the lattice edges.

    ``xline_base`` (nx + 1, N-S lines) and ``yline_base`` (ny + 1, E-W lines) are two-character
    bases; ``h_names`` ``(ny + 1, nx)`` and ``v_names`` ``(ny, nx + 1)`` name the horizontal and
    vertical edges (长江东路 / XX巷, 泰山北路 / XX街).
    """

    xline_base: np.ndarray
    yline_base: np.ndarray
    h_names: np.ndarray
    v_names: np.ndarray


def name_lattice_lines(lattice: Lattice, proj: Projection, rng: np.random.Generator) -> LineNames:
    """Name the lattice lines: arterials after mountains (N-S) and rivers (E-W), local lines synthetic.

    Parameters
    ----------
    lattice, proj : Lattice, Projection
        The lattice and the city centre (EPSG:4544, m): the direction suffix (东/西, 北/南)
        depends on which side of the centre an edge's midpoint lies.
    rng : numpy.random.Generator
        The generator of the ``facilities`` stage (the names are drawn first in that stage).

    Returns
    -------
    LineNames
    """
    vx, vy, x0, y0 = lattice.vx, lattice.vy, proj.x0, proj.y0
    art_x_lines, art_y_lines = lattice.art_x_lines, lattice.art_y_lines
    xline_base = combo_names(rng, lattice.nx + 1).astype("U4")
    yline_base = combo_names(rng, lattice.ny + 1).astype("U4")
    # arterials: mountain names (N-S) and river names (E-W) first, synthetic names beyond
    xl_base = np.concatenate([np.array(MOUNTAINS, dtype="U4"), xline_base[art_x_lines]])[: art_x_lines.size]
    yl_base = np.concatenate([np.array(RIVERS, dtype="U4"), yline_base[art_y_lines]])[: art_y_lines.size]
    xline_base[art_x_lines] = xl_base[: art_x_lines.size]
    yline_base[art_y_lines] = yl_base[: art_y_lines.size]

    # names of horizontal edges (E-W roads): arterial -> 长江东路 / 长江西路, local -> XX巷
    h_mid_x = 0.5 * (vx[:, :-1] + vx[:, 1:])  # (ny+1, nx)
    h_dir = np.where(h_mid_x >= x0, "东路", "西路")
    h_art = np.broadcast_to(lattice.is_art_y[:, None], h_mid_x.shape)
    h_names = np.where(
        h_art,
        np.strings.add(np.broadcast_to(yline_base[:, None], h_mid_x.shape), h_dir),
        np.strings.add(np.broadcast_to(yline_base[:, None], h_mid_x.shape), "巷"),
    )
    v_mid_y = 0.5 * (vy[:-1, :] + vy[1:, :])  # (ny, nx+1)
    v_dir = np.where(v_mid_y >= y0, "北路", "南路")
    v_art = np.broadcast_to(lattice.is_art_x[None, :], v_mid_y.shape)
    v_names = np.where(
        v_art,
        np.strings.add(np.broadcast_to(xline_base[None, :], v_mid_y.shape), v_dir),
        np.strings.add(np.broadcast_to(xline_base[None, :], v_mid_y.shape), "街"),
    )
    return LineNames(xline_base=xline_base, yline_base=yline_base, h_names=h_names, v_names=v_names)


def address_of(
    cells: np.ndarray, lattice: Lattice, streets: Streets, names: LineNames, rng: np.random.Generator
) -> np.ndarray:
    """Postal addresses of sites in ``cells``: province, city, county, street, road and a random number."""
    s = streets.street[cells]
    num = rng.integers(1, 300, cells.size)
    return sadd(
        "四川省德阳市",
        streets.county_names[streets.s_county][s],
        streets.street_names[s],
        names.h_names[lattice.cj[cells], lattice.ci[cells]],
        num.astype(str),
        "号",
    ).astype(object)
