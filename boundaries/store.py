"""Persistence of boundary plans: the only module of ``boundaries`` that talks to the database.

Plans live in ``plans`` (``version`` = current version, status, adoption);
every version's unit -> community assignment in ``plan_versions``
(migration 0003); the current version's community polygons with their
figures in the ``communities`` layer (per plan), so maps, exports and the
other analyses see them.  Every write is one transaction; a stale
``expected_version`` raises :class:`~geo_service.core._errors.ConflictError` (409)
and writes nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import geopandas as gpd
import sqlalchemy as sa

from geo_service.core import models
from geo_service.core._errors import ConflictError, NotFoundError
from geo_service.core.storage import Store, record_change

__all__ = [
    "adopt",
    "commit_version",
    "communities_source_ids",
    "create_plan",
    "get_version",
    "list_versions",
    "plan_streets",
]


def _now() -> datetime:
    return datetime.now(UTC)


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _version_row(row, with_assignment: bool = True) -> dict:
    out = dict(row._mapping)
    for key in ("params", "summary") + (("assignment",) if with_assignment else ()):
        if key in out and out[key] is not None:
            out[key] = json.loads(out[key])
    return out


def get_version(store: Store, plan_id: int, version: int | None = None) -> dict | None:
    """The stored version (default: the newest) of a plan with its parsed assignment, or None."""
    t = models.plan_versions
    stmt = sa.select(t).where(t.c.plan_id == int(plan_id))
    stmt = (
        stmt.where(t.c.version == int(version)) if version is not None else stmt.order_by(t.c.version.desc()).limit(1)
    )
    with store.read() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else _version_row(row)


def list_versions(store: Store, plan_id: int) -> list[dict]:
    t = models.plan_versions
    cols = [c for c in t.c if c.name != "assignment"]
    with store.read() as conn:
        rows = conn.execute(sa.select(*cols).where(t.c.plan_id == int(plan_id)).order_by(t.c.version)).all()
    return [_version_row(r, with_assignment=False) for r in rows]


def communities_source_ids(store: Store, plan_id: int, conn=None) -> dict[str, str]:
    """Community code -> ``source_id`` of the plan's rows in the ``communities`` layer."""
    t = models.LAYER_TABLES["communities"]
    stmt = sa.select(t.c.code, t.c.source_id).where(t.c.plan_id == int(plan_id))
    if conn is not None:
        return {str(c): s for c, s in conn.execute(stmt)}
    with store.read() as c2:
        return {str(c): s for c, s in c2.execute(stmt)}


def plan_streets(store: Store, plan_id: int, conn) -> set[str]:
    t = models.LAYER_TABLES["communities"]
    return {
        str(s) for (s,) in conn.execute(sa.select(t.c.street_code).where(t.c.plan_id == int(plan_id)).distinct()) if s
    }


def _write_communities(
    store: Store, conn, plan_id: int, rows: gpd.GeoDataFrame | None, delete_codes: list[str] | None
) -> None:
    t = models.LAYER_TABLES["communities"]
    if delete_codes:
        conn.execute(t.delete().where(t.c.plan_id == int(plan_id), t.c.code.in_([str(c) for c in delete_codes])))
    if rows is not None and len(rows):
        sids = communities_source_ids(store, plan_id, conn)
        rows = rows.copy()
        rows["source_id"] = [sids.get(str(c), f"plan:{plan_id}:{c}") for c in rows["code"]]
        store.upsert_layer("communities", rows, plan_id=plan_id, conn=conn)
    elif delete_codes:
        store.bump_revision(conn, "communities")


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
            created_at=_now(),
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


def create_plan(
    store: Store,
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
    """A new plan (version 1) with its assignment and community polygons, in one transaction."""
    t = models.plans
    with store.transaction() as conn:
        if conn.execute(sa.select(t.c.id).where(t.c.name == name)).first() is not None:
            raise ConflictError(
                f"a plan named {name!r} already exists", f"已存在名为「{name}」的方案，请换一个名称", name=name
            )
        now = _now()
        pid = int(
            conn.execute(
                t.insert().values(
                    name=name, status=status, description=description, version=1, created_at=now, updated_at=now
                )
            ).inserted_primary_key[0]
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
        _write_communities(store, conn, pid, communities, None)
    return pid


def commit_version(
    store: Store,
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
    when it was never stored (a plan imported as polygons).
    """
    t = models.plans
    with store.transaction() as conn:
        n = conn.execute(
            t.update()
            .where(t.c.id == int(plan_id), t.c.version == int(expected_version))
            .values(version=t.c.version + 1, updated_at=_now())
        ).rowcount
        if n != 1:
            current = conn.execute(sa.select(t.c.version).where(t.c.id == int(plan_id))).scalar()
            if current is None:
                raise NotFoundError(f"no plan {plan_id}", f"没有编号为 {plan_id} 的社区划分方案", plan=plan_id)
            raise ConflictError(
                f"plan {plan_id} is at version {current}, the edit was made on version {expected_version}; reload and redo it",
                f"方案已被他人修改（当前版本 {current}，您的修改基于版本 {expected_version}），请刷新后重新操作；本次修改未保存",
                current_version=int(current),
                expected_version=int(expected_version),
            )
        if base_assignment is not None:
            exists = conn.execute(
                sa.select(models.plan_versions.c.id).where(
                    models.plan_versions.c.plan_id == int(plan_id),
                    models.plan_versions.c.version == int(expected_version),
                )
            ).first()
            if exists is None:
                _insert_version(
                    conn,
                    plan_id,
                    expected_version,
                    parent=None,
                    action="import",
                    params={},
                    assignment=base_assignment,
                    summary={},
                    created_by=None,
                )
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
        _write_communities(store, conn, plan_id, upsert, delete_codes)
    return expected_version + 1


def adopt(
    store: Store,
    plan_id: int,
    version: int,
    *,
    adopted_by: str,
    base_assignment: dict | None = None,
    expected_version: int | None = None,
    actor: str | None = None,
) -> dict:
    """Adopt version ``version`` of a plan: status ``adopted`` with who and when.

    Other adopted plans covering any of the same streets become ``superseded``.
    """
    t = models.plans
    pv = models.plan_versions
    now = _now()
    with store.transaction() as conn:
        row = conn.execute(sa.select(t).where(t.c.id == int(plan_id))).first()
        if row is None:
            raise NotFoundError(f"no plan {plan_id}", f"没有编号为 {plan_id} 的社区划分方案", plan=plan_id)
        if expected_version is None and int(row.version) != int(
            version
        ):  # an edit landed after the caller read the plan
            raise ConflictError(
                f"plan {plan_id} changed to version {row.version} while version {version} was being adopted; adopt again",
                f"采纳期间方案已被修改（当前版本 {row.version}），请核对后重新采纳",
                current_version=int(row.version),
                expected_version=int(version),
            )
        if expected_version is not None and int(row.version) != int(expected_version):
            raise ConflictError(
                f"plan {plan_id} is at version {row.version}, not {expected_version}",
                f"方案已被他人修改（当前版本 {row.version}，您查看的是版本 {expected_version}），请核对后再采纳",
                current_version=int(row.version),
                expected_version=int(expected_version),
            )
        exists = conn.execute(
            sa.select(pv.c.id).where(pv.c.plan_id == int(plan_id), pv.c.version == int(version))
        ).first()
        if exists is None and base_assignment is not None:
            _insert_version(
                conn,
                plan_id,
                version,
                parent=None,
                action="import",
                params={},
                assignment=base_assignment,
                summary={},
                created_by=None,
            )
        conn.execute(
            pv.update()
            .where(pv.c.plan_id == int(plan_id), pv.c.version == int(version))
            .values(adopted_at=now, adopted_by=adopted_by)
        )
        streets = plan_streets(store, plan_id, conn)
        superseded = []
        for other in conn.execute(
            sa.select(t.c.id, t.c.name).where(t.c.status == "adopted", t.c.id != int(plan_id))
        ).all():
            if streets & plan_streets(store, other.id, conn):
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
