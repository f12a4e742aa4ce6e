"""A read-only view of the store with a scenario's changes applied: what every analysis reads instead of the store.

:class:`ScenarioView` answers the reads the ``*_from_store`` functions make (``read_layer``, ``norms``, ``list_plans``,
``get_plan``, ``extent``, ``layer_revisions``, ``list_networks``, ``url``, ``settings``) and refuses every write
(:class:`ScenarioReadOnly`): the current layers stay untouched. The layers a change touches are the base layer with
the changes applied (new features get negative ids derived from their content, so the same new feature has the
same id in every scenario); their revision in :meth:`ScenarioView.layer_revisions` is a negative number derived
from the base revision and the scenario's change of that layer, so no cache keyed by revisions (the prepared inputs
of the domain services, the stored runs) mixes a scenario with the baseline. The walking network is the base one
(same ``url`` and network rows: the process cache of :func:`~geo_service.core.network.load_network` is shared).
Stored analysis runs are invisible through a view (``list_analyses`` is empty), so a ``current_*`` function run on
a view computes and then fails to store, rather than returning a baseline run.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geo_service.core._errors import ConflictError
from geo_service.core.crs import metric_crs_for
from geo_service.core.norms import Norms
from geo_service.core.runs import MemoCache

from .changes import ScenarioChanges, scenario_norms

# base layers read once per revision and shared by the views of one batch (frames are copied before changing)
_BASE = MemoCache(size=24)
_PASS = ("url", "settings", "dialect", "list_networks", "get_metadata", "get_plan_version", "list_plan_versions")


class ScenarioReadOnly(ConflictError):
    """A write through a scenario view: scenarios never change the stored layers."""


def content_id(kind: str, payload: dict) -> int:
    """A negative id from a new feature's content (stable across scenarios and processes)."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return -(int(hashlib.sha1(f"{kind}|{text}".encode()).hexdigest()[:12], 16) % 2**46 + 1)


class ScenarioView:
    """The store as the scenario ``changes`` (already :meth:`~ScenarioChanges.resolved`) would make it; read-only.

    Parameters
    ----------
    store : Store
        The base store (never written through the view).
    changes : ScenarioChanges
    name : str, optional
        The scenario's name, for messages.
    """

    def __init__(self, store, changes: ScenarioChanges, name: str | None = None):
        self.base = store
        self.changes = changes
        self.scenario_name = name
        self._frames: dict[str, gpd.GeoDataFrame] = {}

    # ------------------------------------------------------------------ delegation
    def __getattr__(self, name: str):
        if name in _PASS:
            return getattr(self.base, name)
        if name.startswith("_"):
            raise AttributeError(name)
        raise ScenarioReadOnly(
            f"a scenario view is read-only: {name} is not available",
            f"情景方案只读，不改动现状数据（{name} 不可用）",
            operation=name,
        )

    # ------------------------------------------------------------------ what changes
    @cached_property
    def touched_layers(self) -> dict[str, str]:
        """Layer -> fingerprint of the scenario's change of it, for the layers the scenario changes."""
        c = self.changes
        out = {}
        for layer in ("facilities", "shelters"):
            if c.part_fingerprint(layer):
                out[layer] = c.part_fingerprint(layer)
        if c.developments:
            out["population_units"] = out["developments"] = c.part_fingerprint("developments")
        if c.plan is not None:
            out["communities"] = c.part_fingerprint("plan")
        return out

    @cached_property
    def norms(self) -> Norms:
        """The store's norms with the scenario's changed norms on top."""
        return scenario_norms(self.base.norms, self.changes.norms, getattr(self.base.settings, "norms_file", None))

    def layer_revisions(self) -> dict[str, int]:
        """The base revisions; a touched layer's is a negative number from its base revision and its change."""
        revs = dict(self.base.layer_revisions())
        for layer, fp in self.touched_layers.items():
            digest = hashlib.sha1(f"{revs.get(layer, 0)}|{fp}".encode()).hexdigest()[:12]
            revs[layer] = -(int(digest, 16) % 2**46 + 1)
        return revs

    # ------------------------------------------------------------------ plans
    def list_plans(self) -> list[dict]:
        """The stored plans; with a scenario plan, that one is the adopted one and the adopted ones superseded."""
        plans = [dict(p) for p in self.base.list_plans()]
        if self.changes.plan is None:
            return plans
        pid = int(self.changes.plan)
        for p in plans:
            if int(p["id"]) == pid:
                p["status"] = "adopted"
            elif p["status"] == "adopted":
                p["status"] = "superseded"
        return sorted(plans, key=lambda p: int(p["id"]) == pid)  # resolve_plan takes the last adopted

    def get_plan(self, plan) -> dict:
        p = dict(self.base.get_plan(plan))
        if self.changes.plan is not None:
            pid = int(self.changes.plan)
            if int(p["id"]) == pid:
                p["status"] = "adopted"
            elif p["status"] == "adopted":
                p["status"] = "superseded"
        return p

    # ------------------------------------------------------------------ runs: none seen through a view
    def list_analyses(self, kind: str | None = None, limit: int = 100) -> list[dict]:
        return []

    # ------------------------------------------------------------------ layers
    def read_layer(self, layer: str, **kw) -> gpd.GeoDataFrame:
        """Like :meth:`Store.read_layer`; the touched layers come with the changes applied (filters ``where``,
        ``ids``, ``bbox``, ``limit``/``offset`` applied after)."""
        if layer not in self.touched_layers or layer == "communities":
            return self.base.read_layer(layer, **kw)
        frame = self._changed(layer)
        return _filtered(frame, **kw)

    def count(self, layer: str, **kw) -> int:
        return len(self.read_layer(layer, **{k: v for k, v in kw.items() if k != "limit"}))

    def get_feature(self, layer: str, fid: int) -> gpd.GeoDataFrame:
        return self.read_layer(layer, ids=[fid])

    def extent(self, layer: str | None = None, **kw) -> list[float] | None:
        if layer is None or layer not in self.touched_layers or layer == "communities":
            return self.base.extent(layer, **kw)
        frame = self._changed(layer)
        return None if len(frame) == 0 else [float(v) for v in frame.total_bounds]

    def base_layer(self, layer: str) -> gpd.GeoDataFrame:
        """The stored layer (whole, EPSG:4326), read once per revision for every view of the store."""
        rev = int(self.base.layer_revisions().get(layer, 0))
        return _BASE.get((str(self.base.url), layer, rev), lambda: self.base.read_layer(layer))

    def _changed(self, layer: str) -> gpd.GeoDataFrame:
        if layer not in self._frames:
            frame = self.base_layer(layer).copy()
            if layer in ("facilities", "shelters"):
                frame = self._apply_features(layer, frame)
            elif layer == "population_units":
                frame = _append(frame, self.development_units(frame))
            elif layer == "developments":
                frame = _append(frame, self._development_rows(frame))
            self._frames[layer] = frame
        return self._frames[layer]

    def _apply_features(self, layer: str, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        c = self.changes
        closed = {int(i) for i in c.close.get(layer, ())}
        if closed:
            frame = frame[~frame["id"].astype(int).isin(closed).to_numpy()]
        moves = {int(r): g for r, g in c.move.get(layer, ())}
        if moves:
            frame = frame.copy()
            ids = frame["id"].astype(int).to_numpy()
            geoms = np.asarray(frame.geometry.values, dtype=object)
            for i in np.flatnonzero(np.isin(ids, list(moves))):
                geoms[i] = moves[int(ids[i])]
            frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=4326))
        rows = []
        for f in c.add.get(layer, ()):
            payload = {k: v for k, v in f.items() if k != "geometry"} | {"wkt": f["geometry"].wkt}
            fid = content_id(layer, payload)
            rows.append(
                {
                    **{k: v for k, v in f.items() if k != "geometry"},
                    "id": fid,
                    "source_id": f.get("source_id") or f"whatif:{-fid}",
                    "geometry": f["geometry"],
                }
            )
        return _append(frame, rows)

    # ------------------------------------------------------------------ developments
    @cached_property
    def _metric(self) -> pyproj.CRS:
        units = self.base_layer("population_units")
        return metric_crs_for(units) if len(units) else pyproj.CRS.from_epsg(3857)

    def development_polygon(self, i: int):
        """The polygon of development ``i`` (EPSG:4326): as given, or the circle of its radius."""
        d = self.changes.developments[i]
        if d.radius_m is None:
            return d.geometry
        pt = gpd.GeoSeries([d.geometry], crs=4326).to_crs(self._metric)
        return pt.buffer(float(d.radius_m), quad_segs=16).to_crs(4326).iloc[0]

    def development_units(self, units: gpd.GeoDataFrame) -> list[dict]:
        """The new population units of the developments: residents = households x persons per household unless
        given; the street of the nearest stored unit unless given."""
        pph = float(self.norms.population.persons_per_household)
        rows = []
        for i, d in enumerate(self.changes.developments):
            poly = self.development_polygon(i)
            street = d.street_code
            if street is None and len(units) and "street_code" in units:
                pts = units.geometry.representative_point().to_crs(self._metric)
                here = gpd.GeoSeries([poly.representative_point()], crs=4326).to_crs(self._metric).iloc[0]
                street = units["street_code"].iloc[int(np.argmin(pts.distance(here).to_numpy()))]
            residents = d.residents if d.residents is not None else int(round(d.households * pph))
            fid = content_id("population_units", d.as_dict())
            rows.append(
                {
                    "id": fid,
                    "source_id": f"whatif:{-fid}",
                    "name": d.name,
                    "unit_type": "compound",
                    "residents": residents,
                    "households": d.households,
                    "street_code": street,
                    "geometry": shapely.MultiPolygon([poly]) if poly.geom_type == "Polygon" else poly,
                }
            )
        return rows

    def _development_rows(self, frame: gpd.GeoDataFrame) -> list[dict]:
        rows = []
        for i, d in enumerate(self.changes.developments):
            fid = content_id("developments", d.as_dict())
            poly = self.development_polygon(i)
            rows.append(
                {
                    "id": fid,
                    "source_id": f"whatif:{-fid}",
                    "name": d.name,
                    "planned_households": d.households,
                    "built_facility_area_m2": d.built_facility_area_m2,
                    "status": "planned",
                    "geometry": shapely.MultiPolygon([poly]) if poly.geom_type == "Polygon" else poly,
                }
            )
        return rows


def _append(frame: gpd.GeoDataFrame, rows: list[dict]) -> gpd.GeoDataFrame:
    """``frame`` with ``rows`` (dicts with ``geometry``, EPSG:4326) appended; columns of ``frame`` kept."""
    if not rows:
        return frame
    new = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=4326)
    for col in frame.columns:
        if col not in new.columns:
            new[col] = None
    new = new[[c for c in frame.columns] + [c for c in new.columns if c not in frame.columns]]
    if len(frame) == 0:
        return new.reset_index(drop=True)
    new.index = pd.RangeIndex(len(frame), len(frame) + len(new))
    base = frame.reset_index(drop=True)
    cols = {}
    for col in new.columns:
        if col == "geometry":
            continue
        old = base[col] if col in base.columns else pd.Series([None] * len(base))
        cols[col] = pd.Series(list(old.to_numpy(dtype=object)) + list(new[col].to_numpy(dtype=object))).infer_objects()
    geoms = np.concatenate(
        [np.asarray(base.geometry.values, dtype=object), np.asarray(new.geometry.values, dtype=object)]
    )
    return gpd.GeoDataFrame(pd.DataFrame(cols), geometry=geoms, crs=4326)


def _filtered(frame, *, bbox=None, limit=None, offset=0, plan_id=None, network_id=None, where=None, ids=None):
    """The store's read filters applied to a frame in memory."""
    out = frame
    for col, value in (where or {}).items():
        out = out[(out[col] == value).to_numpy()]
    if ids is not None:
        out = out[out["id"].astype(int).isin([int(i) for i in ids]).to_numpy()]
    if bbox is not None:
        out = out[out.intersects(shapely.box(*[float(v) for v in bbox])).to_numpy()]
    out = out.sort_values("id", kind="stable") if len(out) and (ids is not None or limit is not None) else out
    if offset:
        out = out.iloc[int(offset) :]
    if limit is not None:
        out = out.iloc[: int(limit)]
    return out.reset_index(drop=True)
