"""Plans: the plan rows, their versions, the communities of a plan and adoption — all plan persistence.

Plans live in ``plans`` (``version`` = current version, status, adoption);
every version's unit -> community assignment in ``plan_versions``
(migration 0003); the current version's community polygons with their
figures in the ``communities`` layer (per plan), so maps, exports and the
other analyses see them.  Every write is one transaction, its change-log row
included; a stale ``expected_version`` raises
:class:`~geo_service.core._errors.ConflictError` (409) and writes nothing.
"""

from __future__ import annotations

import json

import geopandas as gpd
import sqlalchemy as sa

from .. import models
from .._errors import ConflictError, NotFoundError
from ._values import _inserted_id, utcnow
from .changes import record_change
from .layers import LayersRepository


class PlansRepository(LayersRepository):
    """Community plans of a :class:`~geo_service.core.storage.Store` (their communities are a layer)."""

    # ------------------------------------------------------------------ plans
    def get_or_create_plan(self, conn, name: str, *, status: str = "draft", description: str | None = None) -> int:
        """The id of the plan named ``name``, created (version 1) in the caller's transaction when absent."""
        t = models.plans
        pid = conn.execute(sa.select(t.c.id).where(t.c.name == name)).scalar()
        if pid is not None:
            return int(pid)
        now = utcnow()
        res = conn.execute(
            t.insert().values(
                name=name, status=status, description=description, version=1, created_at=now, updated_at=now
            )
        )
        return int(res.inserted_primary_key[0])

    def list_plans(self) -> list[dict]:
        """All plan rows, by id."""
        t = models.plans
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(t.c.id))]

    def get_plan(self, plan: int | str) -> dict:
        """One plan row by id or name; :class:`NotFoundError` when absent."""
        t = models.plans
        key = str(plan)
        # An id is ASCII digits within the INTEGER column ('²' is a digit to isdigit(), not to int()); else a name.
        is_id = key.isascii() and key.isdigit() and len(key) <= 10 and int(key) < 2**31
        cond = t.c.id == int(key) if is_id else t.c.name == key
        with self.read() as conn:
            row = conn.execute(sa.select(t).where(cond)).first()
        if row is None:
            raise NotFoundError(f"no plan {plan!r}", f"没有名为或编号为 {plan!r} 的社区划分方案", plan=str(plan))
        return dict(row._mapping)

    # --------------------------------------------------------------- versions
    def get_plan_version(self, plan_id: int, version: int | None = None) -> dict | None:
        """The stored version (default: the newest) of a plan with its parsed assignment, or None."""
        t = models.plan_versions
        stmt = sa.select(t).where(t.c.plan_id == int(plan_id))
        stmt = (
            stmt.where(t.c.version == int(version))
            if version is not None
            else stmt.order_by(t.c.version.desc()).limit(1)
        )
        with self.read() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _version_row(row)

    def list_plan_versions(self, plan_id: int) -> list[dict]:
        """The stored versions of a plan, oldest first, without their assignments."""
        t = models.plan_versions
        cols = [c for c in t.c if c.name != "assignment"]
        with self.read() as conn:
            rows = conn.execute(sa.select(*cols).where(t.c.plan_id == int(plan_id)).order_by(t.c.version)).all()
        return [_version_row(r, with_assignment=False) for r in rows]

    def list_adoptions(self) -> list[dict]:
        """Every adopted version of every plan, newest first: ``plan_id``, ``name``, ``version``, ``adopted_at``,
        ``adopted_by``, ``status`` (the plan's status now: adopted or superseded) and ``current`` (still in force).

        Plans adopted without an adoption record (loaded or imported with status adopted) follow, undated, with
        their current version (the state they were adopted in: such a plan is never edited in place).
        """
        t, pv = models.plans, models.plan_versions
        stmt = (
            sa.select(
                pv.c.plan_id,
                t.c.name,
                pv.c.version,
                pv.c.adopted_at,
                pv.c.adopted_by,
                t.c.status,
                t.c.version.label("now"),
            )
            .join(t, t.c.id == pv.c.plan_id)
            .where(pv.c.adopted_at.is_not(None))
            .order_by(pv.c.adopted_at.desc(), pv.c.id.desc())
        )
        with self.read() as conn:
            rows = conn.execute(stmt).all()
            # plans adopted outside the service (loaded or imported as adopted): their stored state, undated
            dated = {r.plan_id for r in rows}
            older = conn.execute(
                sa.select(
                    t.c.id.label("plan_id"),
                    t.c.name,
                    t.c.version,
                    t.c.adopted_at,
                    t.c.adopted_by,
                    t.c.status,
                    t.c.version.label("now"),
                )
                .where(t.c.status.in_(("adopted", "superseded")))
                .order_by(t.c.id.desc())
            ).all()
        rows = list(rows) + [r for r in older if r.plan_id not in dated]
        out, seen = [], set()
        for r in rows:
            current = r.status == "adopted" and r.plan_id not in seen
            seen.add(r.plan_id)
            out.append(
                {
                    "plan_id": int(r.plan_id),
                    "name": r.name,
                    "version": int(r.version),
                    "adopted_at": r.adopted_at,
                    "adopted_by": r.adopted_by,
                    "status": r.status,
                    "current": bool(current),
                }
            )
        return out

    # ------------------------------------------------------------ communities
    def plan_community_source_ids(self, plan_id: int, conn=None) -> dict[str, str]:
        """Community code -> ``source_id`` of the plan's rows in the ``communities`` layer.

        Parameters
        ----------
        plan_id : int
        conn : sqlalchemy.Connection, optional
            Read within the caller's transaction; default a new read connection.
        """
        t = models.LAYER_TABLES["communities"]
        stmt = sa.select(t.c.code, t.c.source_id).where(t.c.plan_id == int(plan_id))
        if conn is not None:
            return {str(r.code): r.source_id for r in conn.execute(stmt)}
        with self.read() as c2:
            return {str(r.code): r.source_id for r in c2.execute(stmt)}

    def plan_streets(self, plan_id: int, conn) -> set[str]:
        """Street codes of the plan's communities, read with the caller's connection."""
        t = models.LAYER_TABLES["communities"]
        return {
            str(s)
            for (s,) in conn.execute(sa.select(t.c.street_code).where(t.c.plan_id == int(plan_id)).distinct())
            if s
        }

    def _write_plan_communities(
        self, conn, plan_id: int, rows: gpd.GeoDataFrame | None, delete_codes: list[str] | None
    ) -> None:
        """Upsert the plan's community rows by code and delete ``delete_codes``, in the caller's transaction."""
        t = models.LAYER_TABLES["communities"]
        if delete_codes:
            conn.execute(t.delete().where(t.c.plan_id == int(plan_id), t.c.code.in_([str(c) for c in delete_codes])))
        if rows is not None and len(rows):
            sids = self.plan_community_source_ids(plan_id, conn)
            rows = rows.copy()
            rows["source_id"] = [sids.get(str(c), f"plan:{plan_id}:{c}") for c in rows["code"]]
            self.upsert_layer("communities", rows, plan_id=plan_id, conn=conn)
        elif delete_codes:
            self.bump_revision(conn, "communities")

    # ----------------------------------------------------------------- writes
    def create_plan(
        self,
        name: str,
        *,
        assignment: dict,
        communities: gpd.GeoDataFrame,
        action: str,
        params: dict,
        summary: dict,
        created_by: str | None = None,
        description: str | None = None,
        status: str = "draft",
    ) -> int:
        """A new plan (version 1) with its assignment and community polygons, in one transaction.

        Returns
        -------
        int
            The new plan's id; :class:`ConflictError` when the name is taken.
        """
        t = models.plans
        with self.transaction() as conn:
            if conn.execute(sa.select(t.c.id).where(t.c.name == name)).first() is not None:
                raise ConflictError(
                    f"a plan named {name!r} already exists", f"已存在名为「{name}」的方案，请换一个名称", name=name
                )
            now = utcnow()
            pid = _inserted_id(
                conn.execute(
                    t.insert().values(
                        name=name, status=status, description=description, version=1, created_at=now, updated_at=now
                    )
                )
            )
            _insert_version(
                conn,
                pid,
                1,
                parent=None,
                action=action,
                params=params,
                assignment=assignment,
                summary=summary,
                created_by=created_by,
            )
            self._write_plan_communities(conn, pid, communities, None)
        return pid

    def commit_plan_version(
        self,
        plan_id: int,
        expected_version: int,
        *,
        assignment: dict,
        action: str,
        params: dict,
        summary: dict,
        created_by: str | None = None,
        base_assignment: dict | None = None,
        upsert: gpd.GeoDataFrame | None = None,
        delete_codes: list[str] | None = None,
    ) -> int:
        """Store a new version on top of ``expected_version``; return its number.

        ``plans.version`` is bumped with ``WHERE version = expected_version``: if
        another edit got there first nothing is written and :class:`ConflictError`
        (HTTP 409) is raised.  ``base_assignment`` stores the base version first
        when it was never stored (a plan imported as polygons).  The version, its
        communities (``upsert``, ``delete_codes``) and its change-log row are one transaction.
        """
        t = models.plans
        with self.transaction() as conn:
            n = conn.execute(
                t.update()
                .where(t.c.id == int(plan_id), t.c.version == int(expected_version))
                .values(version=t.c.version + 1, updated_at=utcnow())
            ).rowcount
            if n != 1:
                current = conn.execute(sa.select(t.c.version).where(t.c.id == int(plan_id))).scalar()
                if current is None:
                    raise NotFoundError(f"no plan {plan_id}", f"没有编号为 {plan_id} 的社区划分方案", plan=plan_id)
                raise ConflictError(
                    f"plan {plan_id} is at version {current}, the edit was made on version {expected_version}; "
                    "reload and redo it",
                    f"方案已被他人修改（当前版本 {current}，您的修改基于版本 {expected_version}），"
                    "请刷新后重新操作；本次修改未保存",
                    current_version=int(current),
                    expected_version=int(expected_version),
                )
            if base_assignment is not None and not _version_exists(conn, plan_id, expected_version):
                _insert_base_version(conn, plan_id, expected_version, base_assignment)
            _insert_version(
                conn,
                plan_id,
                expected_version + 1,
                parent=expected_version,
                action=action,
                params=params,
                assignment=assignment,
                summary=summary,
                created_by=created_by,
            )
            self._write_plan_communities(conn, plan_id, upsert, delete_codes)
        return expected_version + 1

    def adopt_plan(
        self,
        plan_id: int,
        version: int,
        *,
        adopted_by: str,
        base_assignment: dict | None = None,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> dict:
        """Adopt version ``version`` of a plan: status ``adopted`` with who and when, in one transaction.

        Other adopted plans covering any of the same streets become ``superseded``.

        Returns
        -------
        dict
            ``plan_id``, ``version``, ``adopted_at`` (ISO), ``adopted_by``, ``superseded`` (id and name of each).
        """
        t = models.plans
        pv = models.plan_versions
        now = utcnow()
        with self.transaction() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == int(plan_id))).first()
            if row is None:
                raise NotFoundError(f"no plan {plan_id}", f"没有编号为 {plan_id} 的社区划分方案", plan=plan_id)
            _check_adoptable(plan_id, int(row.version), version, expected_version)
            if base_assignment is not None and not _version_exists(conn, plan_id, version):
                _insert_base_version(conn, plan_id, version, base_assignment)
            conn.execute(
                pv.update()
                .where(pv.c.plan_id == int(plan_id), pv.c.version == int(version))
                .values(adopted_at=now, adopted_by=adopted_by)
            )
            streets = self.plan_streets(plan_id, conn)
            superseded = []
            for other in conn.execute(
                sa.select(t.c.id, t.c.name).where(t.c.status == "adopted", t.c.id != int(plan_id))
            ).all():
                if streets & self.plan_streets(other.id, conn):
                    conn.execute(t.update().where(t.c.id == other.id).values(status="superseded", updated_at=now))
                    superseded.append({"id": int(other.id), "name": other.name})
            conn.execute(
                t.update()
                .where(t.c.id == int(plan_id))
                .values(status="adopted", adopted_at=now, adopted_by=adopted_by, updated_at=now)
            )
            record_change(
                conn,
                actor or adopted_by,
                "plan_adopt",
                "plan",
                int(plan_id),
                {"version": int(version), "adopted_by": adopted_by, "superseded": superseded},
            )
        return {
            "plan_id": int(plan_id),
            "version": int(version),
            "adopted_at": now.isoformat(),
            "adopted_by": adopted_by,
            "superseded": superseded,
        }


# ---------------------------------------------------------------------- helpers
def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _version_row(row, with_assignment: bool = True) -> dict:
    """A ``plan_versions`` row as a dict with ``params``, ``summary`` (and ``assignment``) parsed."""
    out = dict(row._mapping)
    for key in ("params", "summary") + (("assignment",) if with_assignment else ()):
        if key in out and out[key] is not None:
            out[key] = json.loads(out[key])
    return out


def _version_exists(conn, plan_id: int, version: int) -> bool:
    pv = models.plan_versions
    stmt = sa.select(pv.c.id).where(pv.c.plan_id == int(plan_id), pv.c.version == int(version))
    return conn.execute(stmt).first() is not None


def _check_adoptable(plan_id: int, current: int, version: int, expected_version: int | None) -> None:
    """:class:`ConflictError` when the plan moved on from the version being adopted (or the one the caller saw)."""
    if expected_version is None and current != int(version):  # an edit landed after the caller read the plan
        raise ConflictError(
            f"plan {plan_id} changed to version {current} while version {version} was being adopted; adopt again",
            f"采纳期间方案已被修改（当前版本 {current}），请核对后重新采纳",
            current_version=current,
            expected_version=int(version),
        )
    if expected_version is not None and current != int(expected_version):
        raise ConflictError(
            f"plan {plan_id} is at version {current}, not {expected_version}",
            f"方案已被他人修改（当前版本 {current}，您查看的是版本 {expected_version}），请核对后再采纳",
            current_version=current,
            expected_version=int(expected_version),
        )


def _insert_base_version(conn, plan_id: int, version: int, assignment: dict) -> None:
    """Store a version never stored before (a plan imported as polygons) as an ``import`` without change-log row."""
    _insert_version(
        conn,
        plan_id,
        version,
        parent=None,
        action="import",
        params={},
        assignment=assignment,
        summary={},
        created_by=None,
    )


def _insert_version(
    conn,
    plan_id: int,
    version: int,
    *,
    parent: int | None,
    action: str,
    params: dict,
    assignment: dict,
    summary: dict,
    created_by: str | None,
) -> None:
    """One ``plan_versions`` row and (unless an anonymous import) its change-log row, in the caller's transaction."""
    conn.execute(
        models.plan_versions.insert().values(
            plan_id=int(plan_id),
            version=int(version),
            parent_version=parent,
            action=action,
            params=_dumps(params),
            assignment=_dumps(assignment),
            summary=_dumps(summary),
            created_by=created_by,
            created_at=utcnow(),
        )
    )
    if created_by is not None or action != "import":
        kind, _, sub = action.partition(":")  # "edit:rename" -> plan_edit, {"edit": "rename"}
        record_change(
            conn,
            created_by,
            f"plan_{kind}",
            "plan",
            int(plan_id),
            {"version": int(version), "parent_version": parent, **({kind: sub} if sub else {}), "params": params},
        )
