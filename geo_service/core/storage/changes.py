"""The change log: who changed what, written in the transaction of the change itself."""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa

from .. import models
from ..jsonvalues import dumps
from ._base import StoreBase
from ._values import utcnow


def record_change(
    conn,
    actor: str | None,
    action: str,
    target_type: str,
    target_id=None,
    detail: dict | None = None,
    role: str | None = None,
) -> None:
    """Write one change-log row with ``conn`` (inside the transaction of the change itself).

    Parameters
    ----------
    conn : sqlalchemy.Connection
        The connection of the change's own transaction.
    actor : str or None
        ``"name"`` or ``"name (role)"`` as :func:`geo_service.core.auth.actor_label` makes it.
    action, target_type : str
        What was done (``"plan_adopt"``...) and to what kind of thing (``"plan"``...).
    target_id : optional
        Which one; stored as text.
    detail : dict, optional
        Stored as JSON.
    role : str, optional
        The actor's role when ``actor`` does not carry it.
    """
    if actor and role is None and actor.endswith(")") and " (" in actor:
        actor, role = actor[:-1].rsplit(" (", 1)
    conn.execute(
        models.change_log.insert().values(
            at=utcnow(),
            actor=actor or "unknown",
            role=role,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            detail=dumps(detail or {}),
        )
    )


class ChangesRepository(StoreBase):
    """The change log of a :class:`~geo_service.core.storage.Store`."""

    def record_change(
        self,
        conn,
        actor: str | None,
        action: str,
        target_type: str,
        target_id=None,
        detail: dict | None = None,
        role: str | None = None,
    ) -> None:
        """One change-log row, in the caller's transaction (so it exists exactly when the change does)."""
        record_change(conn, actor, action, target_type, target_id, detail, role=role)

    def list_changes(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        actor: str | None = None,
        target_type: str | None = None,
        since: datetime | None = None,
    ) -> tuple[list[dict], int]:
        """Change-log rows, newest first, with the total matching the filters.

        Returns
        -------
        (list of dict, int)
            One page of rows (``detail`` parsed) and the number of rows matching.
        """
        t = models.change_log
        conds = []
        if actor:
            conds.append(t.c.actor == actor)
        if target_type:
            conds.append(t.c.target_type == target_type)
        if since is not None:
            conds.append(t.c.at >= since)
        with self.read() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(t).where(*conds)).scalar()
            rows = conn.execute(
                sa.select(t).where(*conds).order_by(t.c.id.desc()).limit(int(limit)).offset(int(offset))
            ).all()
        return [{**dict(r._mapping), "detail": json.loads(r.detail or "{}")} for r in rows], int(total or 0)
