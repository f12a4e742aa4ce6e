"""Boundary plans as a service: loads the layers, caches the prepared units, runs the domain
functions and persists through the plans repository of :class:`~geo_service.core.storage.Store`.
Used by the API router (``geo_service/api/plans.py``) and the CLI (``geo_service/cli/plans.py``).

Walking distance to community service stations comes from the walking-network
engine (:func:`geo_service.core.network.load_network`) when a network is stored;
otherwise straight-line distance is used and labelled ``straight_line``.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.core import vocab
from geo_service.core._errors import ConflictError, InputError, NotFoundError
from geo_service.core.coherence import require_coherent
from geo_service.core.jsonvalues import plain
from geo_service.core.runs import MemoCache, input_revisions
from geo_service.core.storage import Store

from .adjacency import UnitSet, prepare_units
from .delineate import Band, delineate
from .edit import (
    COMM_COLUMNS,
    PlanState,
    apply_edit,
    changed_units,
    check_locks,
    diff_states,
    labels_from_polygons,
    units_split_by_line,
)
from .evaluate import (
    EvalContext,
    Evaluation,
    community_figures,
    evaluate_plan,
    totals_of,
)
from .params import DelineationParams, EvaluationParams, band_from_input

__all__ = ["EXPORT_COLUMNS", "PlanService"]

_PREPARED = MemoCache(size=6)  # prepared units and stations, keyed by store and input-layer revisions
STATION_CATEGORY = "community_service_station"
INPUT_LAYERS = ("population_units", "admin_areas", "barriers", "roads", "network_edges")

# columns of exported community files (short names: Shapefile fields hold 10 characters)
EXPORT_COLUMNS = {
    "code": "社区代码",
    "name": "社区名称",
    "street": "街道代码",
    "units": "人口单元数",
    "households": "户数",
    "residents": "常住人口",
    "dev_hh": "偏离户数范围",
    "in_band": "户数达标",
    "contiguous": "连续",
    "nested": "嵌套街道",
    "pp": "PP紧凑度",
    "ch_ratio": "凸包紧凑度",
    "area_km2": "面积（平方公里）",
    "workers": "社区工作者",
    "work_need": "应配工作者",
    "hh_per_wkr": "每名工作者户数",
    "station": "有服务站",
    "st_reach": "5分钟可达服务站人口比例",
    "flags_zh": "问题",
}


def clear_cache() -> None:
    """Forget the prepared units and stations of every store (tests, after a data reset)."""
    _PREPARED.clear()


class PlanService:
    """Plans of one :class:`~geo_service.core.storage.Store`."""

    def __init__(self, store: Store):
        self.store = store
        self.norms = store.norms

    # ------------------------------------------------------------------ inputs
    def _revisions(self, layers) -> tuple:
        return tuple(input_revisions(self.store, layers).values())

    def default_band(self) -> Band:
        """The household band of the store's norms (the city's override file included)."""
        return band_from_input(self.norms)

    def unit_set(self) -> UnitSet:
        """Prepared units (tiles, adjacency), cached per layer revisions."""
        key = ("units", str(self.store.url), self._revisions(INPUT_LAYERS))
        return _PREPARED.get(key, self._build_unit_set)

    def _build_unit_set(self) -> UnitSet:
        s = self.store
        require_coherent(s, INPUT_LAYERS)  # layers far apart: a wrong CRS or another city's file
        units = s.read_layer("population_units")
        if units.empty:
            raise NotFoundError(
                "no population units are stored", "尚未导入人口单元（population_units），无法划分或评估社区"
            )
        streets = s.read_layer("admin_areas", where={"level": "street"})
        barriers = s.read_layer("barriers")
        roads = s.read_layer("roads")
        edges = None
        if roads.empty and s.list_networks():
            edges = s.read_layer("network_edges", network_id=s.list_networks()[-1]["id"])
        return prepare_units(units, streets=streets, barriers=barriers, roads=roads, network_edges=edges)

    def stations(self, us: UnitSet) -> tuple[np.ndarray | None, str, np.ndarray | None]:
        """(walking distance per unit to the nearest station (m), method, station points (metric))."""
        key = ("stations", str(self.store.url), self._revisions(INPUT_LAYERS + ("facilities", "network_nodes")))
        return _PREPARED.get(key, lambda: self._build_stations(us))

    def _build_stations(self, us: UnitSet):
        fac = vocab.in_service(self.store.read_layer("facilities", where={"category": STATION_CATEGORY}))
        if fac.empty:
            return np.full(us.n, np.inf), "none", np.zeros(0, dtype=object)
        st_m = np.asarray(fac.to_crs(us.crs).geometry.values, dtype=object)
        st_pts = np.where(shapely.get_type_id(st_m) == 0, st_m, shapely.point_on_surface(st_m))
        walk_m = self.norms.life_circle("5min").walk_m
        try:
            from geo_service.core.network import load_network

            if not self.store.list_networks():
                raise LookupError("no network")
            net = load_network(self.store)
            src = net.snap(fac.geometry.values, crs=4326)
            res = net.nearest(src, limit_m=float(walk_m) * 5)
            d, _, _ = res.at(net.snap(us.units.geometry.values, crs=4326))
            return np.asarray(d, dtype=float), "network", st_pts
        except (ImportError, AttributeError, LookupError, NotFoundError):
            rp = shapely.point_on_surface(us.geom_m)
            _, dist = shapely.STRtree(st_pts).query_nearest(rp, return_distance=True, all_matches=False)
            return np.asarray(dist, dtype=float), "straight_line", st_pts

    def context(self, us: UnitSet, band: Band | None = None, other: PlanState | None = None) -> EvalContext:
        d, method, pts = self.stations(us)
        ctx = EvalContext(
            band=band or self.default_band(),
            workers_per_10000=float(self.norms.community_workers_per_10000),
            walk_m=float(self.norms.life_circle("5min").walk_m),
            station_walk_m=None if method == "none" else d,
            station_method=method,
            stations_m=pts,
        )
        if other is not None:
            ctx.other_labels = other.labels
            ctx.other_codes = other.communities["code"].astype(str).to_numpy()
        return ctx

    # ------------------------------------------------------------------ plans
    def plan(self, plan) -> dict:
        return self.store.get_plan(plan)

    def state(self, plan, version: int | None = None) -> tuple[dict, PlanState, int, bool]:
        """(plan row, state, version, stored?) — a plan never edited is read from its community polygons."""
        row = self.store.get_plan(plan)
        us = self.unit_set()
        v = self.store.get_plan_version(row["id"], version if version is not None else row["version"])
        if v is not None:
            return row, PlanState.from_json(us, v["assignment"]), int(v["version"]), True
        if version is not None and int(version) != int(row["version"]):
            raise NotFoundError(
                f"plan {row['id']} has no stored version {version}",
                f"方案 {row['name']} 没有版本 {version}",
                plan=row["id"],
                version=version,
            )
        comm = self.store.read_layer("communities", plan_id=row["id"])
        labels = (
            labels_from_polygons(us, np.asarray(comm.to_crs(us.crs).geometry.values, dtype=object))
            if len(comm)
            else np.full(us.n, -1)
        )
        cols = ["code", "name", "street_code", "community_workers", "has_fixed_office"]
        table = comm.reindex(columns=cols).reset_index(drop=True)
        return row, PlanState(np.asarray(labels, np.int64), pd.DataFrame(table)), int(row["version"]), False

    def units_table(self, plan, version: int | None = None, community: str | None = None):
        """Every population unit of ``plan`` at ``version`` (default: current) with its community.

        Returns ``(plan row, version, state, unit set, frame)``; ``frame`` has ``unit_id`` (the id edits take),
        ``source_id``, ``name``, ``street_code``, ``households``, ``residents``, ``community_code`` and
        ``community_name``, ordered by unit id; its index is the unit's position in the unit set (``us.units``).
        ``community``: only that community's units (404 when the version has no such community).
        """
        row, state, ver, _ = self.state(plan, version)
        us = self.unit_set()
        units = us.units
        codes = state.codes_of_units()
        comm_names = dict(zip(state.communities["code"].astype(str), state.communities["name"].astype(object)))
        street = us.streets["code"].astype(str).to_numpy(dtype=object)[us.street]
        frame = pd.DataFrame(
            {
                "unit_id": units["id"].to_numpy(np.int64) if "id" in units else np.arange(us.n),
                "source_id": units["source_id"].astype(str).to_numpy() if "source_id" in units else None,
                "name": units["name"].astype(object).to_numpy() if "name" in units else None,
                "street_code": np.where(street == "", None, street),
                "households": us.households,
                "residents": us.residents,
                "community_code": codes,
                "community_name": [comm_names.get(c) if c is not None else None for c in codes],
            }
        )
        if community is not None:
            if str(community) not in comm_names:
                raise NotFoundError(
                    f"plan {row['id']} version {ver} has no community {community!r}",
                    f"方案「{row['name']}」版本 {ver} 中没有代码为 {community} 的社区",
                    plan=row["id"],
                    code=str(community),
                )
            frame = frame[frame["community_code"] == str(community)]
        frame = frame.sort_values("unit_id", kind="stable")
        return row, ver, state, us, frame.astype(object).where(frame.notna(), None)

    def list_plans(self) -> list[dict]:
        out = []
        for p in self.store.list_plans():
            p = dict(p)
            p["communities"] = self.store.count("communities", plan_id=p["id"])
            out.append(p)
        return out

    def evaluate(self, plan, params: EvaluationParams | None = None) -> tuple[dict, Evaluation, int]:
        """(plan row, evaluation, version) of ``plan`` (default parameters: the norms' band, the current version)."""
        params = params or EvaluationParams.from_input(self.norms)
        row, state, ver, _ = self.state(plan, params.version)
        us = self.unit_set()
        other_state = self.state(params.other, params.other_version)[1] if params.other is not None else None
        ev = evaluate_plan(us, state.labels, state.communities, self.context(us, params.band, other_state))
        return row, ev, ver

    # ------------------------------------------------------------------ propose
    def delineate(
        self,
        params: DelineationParams,
        *,
        name: str | None = None,
        created_by: str | None = None,
        save: bool = True,
        progress=None,
    ) -> dict:
        """Propose a plan (:class:`DelineationParams`), evaluate it and, with ``save``, store it as a draft.

        ``progress``: optional callable ``(share 0-1, stage in Chinese)`` told as the stages go by (background jobs).
        """
        band, k, mode, seed = params.band, params.k, params.mode, params.seed
        streets = None if params.streets is None else list(params.streets)
        tell = progress or (lambda share, stage: None)
        tell(0.05, "准备人口单元与相邻关系")
        us = self.unit_set()
        existing = None
        base_row = None
        if params.from_plan is not None:
            base_row, existing, _, _ = self.state(params.from_plan)
        tell(0.3, "自动划分社区")
        t0 = time.perf_counter()
        prop = delineate(
            us,
            band,
            streets=streets,
            k=k,
            existing=None if existing is None else existing.labels,
            existing_codes=None if existing is None else existing.communities,
            mode=mode,
            seed=seed,
            workers_per_10000=float(self.norms.community_workers_per_10000),
        )
        seconds = time.perf_counter() - t0
        comm = prop.communities.copy()
        if existing is not None:  # keep the workers / office of continuing communities
            old = existing.communities.set_index(existing.communities["code"].astype(str))
            for col in ("community_workers", "has_fixed_office"):
                comm[col] = comm["code"].map(old[col]) if col in old else None
        state = PlanState(
            prop.labels, comm.reindex(columns=["code", "name", "street_code", "community_workers", "has_fixed_office"])
        )
        tell(0.75, "评估划分结果")
        ctx = self.context(us, band, existing)
        ev = evaluate_plan(us, state.labels, state.communities, ctx)
        out = {
            "seconds": round(seconds, 3),
            "problems": prop.problems,
            "stats": prop.stats,
            "evaluation": ev,
            "state": state,
            "mode": mode,
            "band": band,
            "plan_id": None,
            "version": None,
        }
        if save:
            tell(0.9, "保存草案")
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            name = name or f"划分草案 {stamp}"
            params = {
                "streets": streets,
                "band": [band.min_households, band.max_households],
                "k": k,
                "mode": mode,
                "from_plan": None if base_row is None else base_row["id"],
                "seed": seed,
            }
            summary = plain(ev.totals)
            pid = self.store.create_plan(
                name,
                assignment=state.to_json(us),
                communities=self._layer_rows(us, ev.communities),
                action="delineate",
                params=params,
                summary=summary,
                created_by=created_by,
                description=f"自动划分草案（模式 {mode}，户数 {band.min_households}-{band.max_households}）",
            )
            out["plan_id"], out["version"], out["name"] = pid, 1, name
        return out

    def _layer_rows(self, us: UnitSet, rows: pd.DataFrame) -> gpd.GeoDataFrame:
        """Rows for the ``communities`` layer (EPSG:4326, dissolved polygons with figures)."""
        geoms = rows["geometry_wgs84"].to_numpy(dtype=object)
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        workers = pd.to_numeric(rows["community_workers"], errors="coerce")
        frame = gpd.GeoDataFrame(
            {
                "code": rows["code"].to_numpy(),
                "name": rows["name"].to_numpy(),
                "street_code": rows["street_code"].to_numpy(),
                "has_fixed_office": [None] * len(rows),
                "community_workers": [None if not np.isfinite(w) else int(w) for w in workers.to_numpy(float)],
                "households": rows["households"].astype(np.int64).to_numpy(),
                "residents": rows["residents"].astype(np.int64).to_numpy(),
            },
            geometry=geoms,
            crs=4326,
        )
        return frame[ok]

    # ------------------------------------------------------------------ edit
    def _check_version(self, row: dict, if_match: int) -> None:
        if row["status"] == "adopted":
            raise ConflictError(
                f"plan {row['name']} is adopted; copy it to a draft to edit",
                f"方案「{row['name']}」已采纳，不能直接修改；请先复制为草案（POST /plans/{row['id']}/copy）再编辑",
                plan=row["id"],
            )
        if int(if_match) != int(row["version"]):
            raise ConflictError(
                f"plan {row['id']} is at version {row['version']}, the edit was made on version {if_match}; "
                "reload and redo it",
                f"方案已被他人修改（当前版本 {row['version']}，您的修改基于版本 {if_match}），"
                "请刷新后重新操作；本次修改未保存",
                current_version=int(row["version"]),
                expected_version=int(if_match),
            )

    def edit(self, plan, if_match: int, edit: dict, *, created_by: str | None = None) -> dict:
        """Apply one edit on version ``if_match`` (409 when the plan moved on) and store it as the next version.

        ``edit``: as :func:`boundaries.edit.apply_edit`, plus ``split`` with ``line`` (lon/lat points, EPSG:4326)
        instead of ``units``, and ``restore`` with ``version`` (the assignment of an earlier version again: undo and
        redo are new versions). Returns the new version, the touched communities' figures (``rows``), the codes
        ``removed``, the units whose community changed (``units``) and ``compute_ms``.
        """
        row = self.store.get_plan(plan)
        self._check_version(row, if_match)
        row, state, ver, stored = self.state(row["id"])
        if ver != int(if_match):  # another edit was committed between the check above and this read
            self._check_version({**row, "version": ver}, if_match)
        us = self.unit_set()
        t0 = time.perf_counter()
        edit = dict(edit)
        if edit.get("action") == "restore":
            new, touched, removed = self._restore(row, state, edit)
        else:
            if edit.get("action") == "split" and edit.get("line") and not edit.get("units"):
                edit["units"] = units_split_by_line(us, state, str(edit.get("code")), edit.pop("line"))
            edit.pop("line", None)
            new, touched, removed = apply_edit(us, state, edit)
        ctx = self.context(us)
        rows = community_figures(us, new.labels, new.communities, np.asarray(touched, np.int64), ctx)
        units = changed_units(us, state, new)
        compute_ms = (time.perf_counter() - t0) * 1000
        version = self.store.commit_plan_version(
            row["id"],
            ver,
            assignment=new.to_json(us),
            action=f"edit:{edit.get('action')}",
            params=plain({k: v for k, v in edit.items() if k != "locked"}),
            summary={"touched": rows["code"].tolist(), "removed": removed, "units_changed": len(units)},
            created_by=created_by,
            base_assignment=None if stored else state.to_json(us),
            upsert=self._layer_rows(us, rows),
            delete_codes=removed,
        )
        return {
            "plan_id": row["id"],
            "version": version,
            "rows": rows,
            "removed": removed,
            "units": units,
            "compute_ms": round(compute_ms, 1),
            "us": us,
        }

    def _restore(self, row: dict, state: PlanState, edit: dict) -> tuple[PlanState, list[int], list[str]]:
        """The assignment of version ``edit["version"]`` as the next state (undo/redo): touched = communities whose
        units or name differ, removed = codes absent from that version."""
        target = edit.get("version")
        if not isinstance(target, int) or target < 1:
            raise InputError("restore needs the version to restore", "恢复操作须给出要恢复的版本号（version）")
        _, old, _, _ = self.state(row["id"], target)
        cur_codes = state.communities["code"].astype(str).to_numpy()
        old_codes = old.communities["code"].astype(str).to_numpy()
        removed = sorted(set(cur_codes) - set(old_codes))
        a, b = state.codes_of_units(), old.codes_of_units()
        differ = set(a[a != b].tolist()) | set(b[a != b].tolist())
        cur_names = dict(zip(cur_codes, state.communities["name"].astype(str)))
        differ |= {c for c, n in zip(old_codes, old.communities["name"].astype(str)) if cur_names.get(c) != n}
        check_locks(edit.get("locked"), sorted((differ - {None}) | set(removed)))
        touched = [k for k, c in enumerate(old_codes) if c in differ]
        return old, touched, removed

    def copy(self, plan, *, name: str, created_by: str | None = None) -> dict:
        row, state, ver, _ = self.state(plan)
        us = self.unit_set()
        ev = evaluate_plan(us, state.labels, state.communities, self.context(us))
        pid = self.store.create_plan(
            name,
            assignment=state.to_json(us),
            communities=self._layer_rows(us, ev.communities),
            action="copy",
            params={"from_plan": row["id"], "from_version": ver},
            summary=plain(ev.totals),
            created_by=created_by,
            description=f"复制自方案「{row['name']}」版本 {ver}",
        )
        return {"plan_id": pid, "version": 1, "name": name}

    def diff(self, plan, other, *, version: int | None = None, other_version: int | None = None) -> dict:
        us = self.unit_set()
        row_a, a, va, _ = self.state(other, other_version)
        row_b, b, vb, _ = self.state(plan, version)
        d = diff_states(us, a, b)
        d["from"] = {"plan_id": row_a["id"], "name": row_a["name"], "version": va}
        d["to"] = {"plan_id": row_b["id"], "name": row_b["name"], "version": vb}
        return d

    def adopt(self, plan, *, adopted_by: str, if_match: int | None = None, actor: str | None = None) -> dict:
        """Adopt ``plan``: a draft of some streets replaces only those streets' communities of the adopted plan
        (merged as the draft's next version); refused (422) when it leaves units of its streets without a community.
        """
        if not adopted_by or not str(adopted_by).strip():
            raise InputError("adoption needs the name of who adopts", "采纳方案须注明采纳人（adopted_by）")
        row, state, ver, stored = self.state(plan)
        us = self.unit_set()
        self._refuse_unassigned(row, state, us)
        merge = None if if_match is not None and int(if_match) != ver else self._merge_with_adopted(row, state, us)
        if merge is not None:  # a draft of some streets: the adopted plan's other streets are kept (new version)
            base = None if stored else state.to_json(us)
            ver = self._commit_merge(row, ver, base, merge[1], us, merge[0], merge[2], actor or adopted_by)
            stored = True
        out = self.store.adopt_plan(
            row["id"],
            ver,
            adopted_by=str(adopted_by).strip(),
            base_assignment=None if stored else state.to_json(us),
            expected_version=if_match if merge is None else ver,
            actor=actor,
        )
        if merge is not None:
            out["merged_from"] = {"id": int(merge[0]["id"]), "name": merge[0]["name"], "communities_kept": merge[2]}
        return out

    @staticmethod
    def _unassigned(state: PlanState, us: UnitSet) -> dict[str, int]:
        """Street code -> units without a community, for the streets where ``state`` assigns any unit."""
        street_of_unit = us.streets["code"].astype(str).to_numpy()[us.street]
        covered = np.unique(street_of_unit[state.labels >= 0])
        miss = np.isin(street_of_unit, covered) & (state.labels < 0)
        codes, counts = np.unique(street_of_unit[miss], return_counts=True)
        return {str(c): int(n) for c, n in zip(codes, counts)}

    def _refuse_unassigned(self, row: dict, state: PlanState, us: UnitSet) -> None:
        missing = self._unassigned(state, us)
        if missing:
            n = sum(missing.values())
            where = "、".join(f"街道 {c}：{k} 个" for c, k in missing.items())
            raise InputError(
                f"plan {row['id']} leaves {n} population units of its streets without a community: {missing}",
                f"方案「{row['name']}」有 {n} 个人口单元未划入任何社区（{where}），不能采纳；请先将其划入社区",
                units_unassigned=n,
                streets=missing,
            )

    def adoption_preview(self, plan) -> dict:
        """What adopting ``plan`` would change city-wide, without writing anything.

        Returns
        -------
        dict
            ``plan`` and ``adopted`` (the plan adopted now, or None); ``streets`` (codes the draft covers);
            ``communities_before`` / ``communities_after``; ``added`` / ``removed`` (``code``, ``name``,
            ``street_code``, ``households``, ``residents``), ``changed`` (kept codes whose units change);
            ``communities_kept`` (from the adopted plan's other
            streets); ``units_moved``, ``residents_moved``, ``households_moved`` and ``moved_by_street`` against the
            adopted plan; ``units_unassigned`` per street and ``refused_zh`` (None when adoption may go ahead).
        """
        row, state, ver, _ = self.state(plan)
        us = self.unit_set()
        adopted = [p for p in self.store.list_plans() if p["status"] == "adopted" and p["id"] != row["id"]]
        missing = self._unassigned(state, us)
        refused = None
        if missing:
            n = sum(missing.values())
            refused = f"有 {n} 个人口单元未划入任何社区，不能采纳"
        try:
            merge = self._merge_with_adopted(row, state, us)
        except ConflictError as exc:
            merge, refused = None, exc.message_zh
        after = merge[1] if merge is not None else state
        base = (
            self.state(adopted[-1]["id"])[1]
            if adopted
            else PlanState(np.full(us.n, -1, np.int64), pd.DataFrame(columns=COMM_COLUMNS))
        )
        d = diff_states(us, base, after)
        street_of_unit = us.streets["code"].astype(str).to_numpy()[us.street]

        def table(st: PlanState, codes) -> list[dict]:
            out = []
            for code in codes:
                k = st.index_of(code)
                members = st.labels == k
                r = st.communities.iloc[k]
                out.append(
                    {
                        "code": str(code),
                        "name": None if pd.isna(r["name"]) else str(r["name"]),
                        "street_code": None if pd.isna(r["street_code"]) else str(r["street_code"]),
                        "households": int(us.households[members].sum()),
                        "residents": int(us.residents[members].sum()),
                    }
                )
            return out

        moved_codes = set(d["moves"]["from_code"].dropna().astype(str)) | set(
            d["moves"]["to_code"].dropna().astype(str)
        )
        before_codes = set(base.communities["code"].astype(str))
        after_codes = set(after.communities["code"].astype(str))
        return {
            "plan": {"id": int(row["id"]), "name": row["name"], "version": int(ver), "status": row["status"]},
            "adopted": None
            if not adopted
            else {"id": int(adopted[-1]["id"]), "name": adopted[-1]["name"], "version": int(adopted[-1]["version"])},
            "streets": sorted(set(street_of_unit[state.labels >= 0].tolist())),
            "communities_before": len(before_codes),
            "communities_after": len(after_codes),
            "communities_kept": 0 if merge is None else int(merge[2]),
            "changed": table(after, sorted(before_codes & after_codes & moved_codes)),
            "added": table(after, sorted(after_codes - before_codes)),
            "removed": table(base, sorted(before_codes - after_codes)),
            "units_moved": d["units_moved"],
            "residents_moved": d["residents_moved"],
            "households_moved": d["households_moved"],
            "moved_by_street": plain(d["streets"].to_dict(orient="records")),
            "units_unassigned": missing,
            "refused_zh": refused,
        }

    def adoptions(self) -> list[dict]:
        """Every adopted state, newest first (superseded ones stay readable: ``GET /plans/{id}?version=N``)."""
        return self.store.list_adoptions()

    def _merge_with_adopted(self, row, state: PlanState, us: UnitSet) -> tuple[dict, PlanState, int] | None:
        """The draft ``state`` completed with the communities of the adopted plan in the streets it does not cover.

        None when no other plan is adopted or the draft covers every street of it. Returns (the adopted plan's row,
        the merged state, the number of communities kept from it).
        """
        adopted = [p for p in self.store.list_plans() if p["status"] == "adopted" and p["id"] != row["id"]]
        if not adopted:
            return None
        base_row, base, _, _ = self.state(adopted[-1]["id"])
        street_of_unit = us.streets["code"].astype(str).to_numpy()[us.street]
        drafted = np.isin(street_of_unit, np.unique(street_of_unit[state.labels >= 0]))
        keep = (base.labels >= 0) & ~drafted
        if not keep.any():
            return None
        kept = np.unique(base.labels[keep])
        comm = pd.concat(
            [
                state.communities.reindex(columns=COMM_COLUMNS),
                base.communities.iloc[kept].reindex(columns=COMM_COLUMNS),
            ],
            ignore_index=True,
        )
        clash = comm["code"].astype(str)[comm["code"].astype(str).duplicated()].tolist()
        if clash:
            raise ConflictError(
                f"community codes {clash} are in the draft and in the adopted plan's other streets",
                f"草案与现行方案其他街道的社区代码重复：{'、'.join(clash)}，请修改后再采纳",
                codes=clash,
            )
        labels = state.labels.copy()
        remap = np.full(len(base.communities), -1, np.int64)
        remap[kept] = len(state.communities) + np.arange(kept.size)
        labels[keep] = remap[base.labels[keep]]
        return base_row, PlanState(labels, comm), int(kept.size)

    def _commit_merge(self, row, ver, base_assignment, merged: PlanState, us: UnitSet, base_row, kept: int, who) -> int:
        """Store the merged assignment as the draft's next version (its communities layer rows too);
        ``base_assignment``: the draft's own assignment when it was never stored (a plan imported as polygons)."""
        ev = evaluate_plan(us, merged.labels, merged.communities, self.context(us))
        return self.store.commit_plan_version(
            row["id"],
            ver,
            assignment=merged.to_json(us),
            action="merge_adopted",
            params={"merged_from_plan": int(base_row["id"]), "from_version": int(ver)},
            summary={"communities_kept": kept, "communities": len(merged.communities)},
            created_by=who,
            base_assignment=base_assignment,
            upsert=self._layer_rows(us, ev.communities),
        )

    def export(
        self, plan, fmt: str, out: str | Path, *, crs: str = "EPSG:4490", version: int | None = None
    ) -> tuple[Path, int]:
        from geo_service.core.exporter import reproject
        from geo_service.core.io import write_file

        if fmt not in ("gpkg", "shp", "geojson"):
            raise InputError(
                f"export format must be gpkg, shp or geojson, got {fmt!r}",
                f"导出格式应为 gpkg、shp 或 geojson，收到 {fmt!r}",
            )
        _, ev, _ = self.evaluate(plan, EvaluationParams.from_input(self.norms, version=version))
        us = self.unit_set()
        gdf = export_frame(us, ev.communities)
        gdf = reproject(gdf, crs)
        path = write_file(gdf, out, fmt, layer_name="communities", headers_zh=EXPORT_COLUMNS)
        return path, len(gdf)


def export_frame(us: UnitSet, rows: pd.DataFrame) -> gpd.GeoDataFrame:
    """Community polygons (EPSG:4326) with the figures under short column names (:data:`EXPORT_COLUMNS`)."""
    geoms = rows["geometry_wgs84"].to_numpy(dtype=object)
    frame = pd.DataFrame(
        {
            "code": rows["code"].astype(str),
            "name": rows["name"].astype(str),
            "street": rows["street_code"].astype(str),
            "units": rows["units"].astype(np.int64),
            "households": rows["households"].astype(np.int64),
            "residents": rows["residents"].astype(np.int64),
            "dev_hh": rows["deviation_households"].astype(np.int64),
            "in_band": rows["in_band"].astype(bool),
            "contiguous": rows["contiguous"].astype(bool),
            "nested": rows["nested"].astype(bool),
            "pp": rows["polsby_popper"].astype(float).round(4),
            "ch_ratio": rows["convex_hull_ratio"].astype(float).round(4),
            "area_km2": rows["area_km2"].astype(float).round(4),
            "workers": pd.to_numeric(rows["community_workers"], errors="coerce"),
            "work_need": rows["workers_needed"].astype(np.int64),
            "hh_per_wkr": rows["households_per_worker"].astype(float).round(1),
            "station": rows["has_station"].map(lambda v: None if v is None else bool(v)),
            "st_reach": rows["station_reach_share"].astype(float).round(3),
            "flags_zh": ["；".join(f["label_zh"] for f in fl) for fl in rows["flags"]],
        }
    )
    from geo_service.core.storage import promote_to_storage

    geoms = promote_to_storage(geoms, "MULTIPOLYGON")
    return gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def rows_records(rows: pd.DataFrame) -> list[dict]:
    """Per-community rows (without geometry) as JSON-ready dicts."""
    cols = [c for c in rows.columns if c not in ("geometry", "geometry_wgs84")]
    return [plain({c: r[c] for c in cols}) for r in rows.to_dict(orient="records")]


__all__ += ["clear_cache", "export_frame", "rows_records", "totals_of"]


def run_delineation_job(store: Store, job_id: int, params: DelineationParams, *, name=None, created_by=None) -> None:
    """Delineate as background job ``job_id`` (a row of ``jobs``): progress and stage in ``result`` while it runs
    (``{"progress": 0-1, "stage_zh": …}``), then ``plan_id``/``name``/``version``/``totals``, or failed with the
    Chinese reason."""
    from geo_service.core.storage import utcnow

    def tell(share: float, stage: str) -> None:
        store.update_job(job_id, result={"progress": round(float(share), 2), "stage_zh": stage})

    try:
        store.update_job(job_id, status="running", started_at=utcnow())
        out = PlanService(store).delineate(params, name=name, created_by=created_by, progress=tell)
        result = {
            "progress": 1.0,
            "stage_zh": "完成",
            "plan_id": out["plan_id"],
            "name": out.get("name"),
            "version": out["version"],
            "seconds": out["seconds"],
            "totals": plain(out["evaluation"].totals),
            "problems": plain(out["problems"]),
        }
        store.update_job(job_id, status="done", finished_at=utcnow(), result=result)
    except Exception as exc:  # recorded on the job; the service goes on
        message = getattr(exc, "message_zh", None) or str(exc)
        store.update_job(job_id, status="failed", finished_at=utcnow(), error=f"{type(exc).__name__}: {message}"[:2000])


__all__ += ["run_delineation_job"]
