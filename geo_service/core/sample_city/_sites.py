"""Accumulators of facility sites and small plan parcels, and the small-parcel slot of a cell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._util import bilinear, concat_columns, point_outside_ne
from .lattice import Lattice


class SiteBlocks:
    """Facility sites collected block by block, as columns.

    Each block holds ``category``, ``cell``, ``name``, ``floor`` (floor area, m²), ``land`` (land
    area, m²), ``cap`` (capacity, ``-1`` for none), ``status``, ``hours``, ``u``/``v`` (position
    in the cell, 0-1) and ``poly`` (EPSG:4326 polygon or None).
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.blocks: list[dict[str, np.ndarray]] = []

    def add(
        self,
        cat: str,
        cells: np.ndarray,
        names: Any,
        floor: Any = None,
        land: Any = None,
        cap: Any = None,
        status: Any = None,
        hours: str | None = None,
        u: Any = None,
        v: Any = None,
        poly: Any = None,
    ) -> None:
        """Add ``cells.size`` sites; missing positions and statuses are drawn from ``rng`` (in that order)."""
        k = cells.size
        if k == 0:
            return
        if u is None:
            u, v = point_outside_ne(self.rng, k)
        if status is None:
            rr = self.rng.random(k)
            status = np.where(rr < 0.93, "existing", np.where(rr < 0.97, "under_construction", "planned"))
        self.blocks.append(
            dict(
                category=np.full(k, cat, dtype=object),
                cell=cells.astype(np.int64),
                name=np.asarray(names).astype(object),
                floor=np.full(k, np.nan) if floor is None else np.asarray(floor, float),
                land=np.full(k, np.nan) if land is None else np.asarray(land, float),
                cap=np.full(k, -1, np.int64) if cap is None else np.asarray(cap, np.int64),
                status=np.asarray(status).astype(object),
                hours=np.full(k, hours, dtype=object),
                u=np.asarray(u, float),
                v=np.asarray(v, float),
                poly=np.full(k, None, dtype=object) if poly is None else np.asarray(poly, dtype=object),
            )
        )

    def columns(self) -> dict[str, np.ndarray]:
        """All sites as one dict of columns."""
        return concat_columns(self.blocks)


@dataclass(frozen=True)
class SmallParcels:
    """Small plan parcels cut out of the NE quadrant of their cell (area in m², polygons in EPSG:4326)."""

    cell: np.ndarray
    poly: np.ndarray
    area: np.ndarray
    code: np.ndarray
    use: np.ndarray
    status: np.ndarray

    @classmethod
    def concat(cls, parts: list[SmallParcels]) -> SmallParcels:
        """The parcels of ``parts`` one after the other."""
        return cls(
            **{
                key: np.concatenate([getattr(p, key) for p in parts])
                for key in ("cell", "poly", "area", "code", "use", "status")
            }
        )


def slot_quads(
    lattice: Lattice, cells: np.ndarray, target_area: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Quads of about ``target_area`` (m²) in the NE quadrant of ``cells``.

    Returns the corner arrays ``(n, 4)`` (m, EPSG:4544) and the (u, v) of the quad centres.
    """
    w = np.clip(np.sqrt(target_area / lattice.cell_area[cells]), 0.12, 0.4)
    u0 = 0.55 + rng.uniform(0, 1, cells.size) * (0.4 - w)
    v0 = 0.55 + rng.uniform(0, 1, cells.size) * (0.4 - w)
    qx, qy = bilinear(
        lattice.cx[cells][:, None, :],
        lattice.cy[cells][:, None, :],
        np.stack([u0, u0 + w, u0 + w, u0], 1),
        np.stack([v0, v0, v0 + w, v0 + w], 1),
    )
    return qx, qy, u0 + w / 2, v0 + w / 2
