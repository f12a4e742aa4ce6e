"""Background jobs: their kind, parameters, status and result."""

from __future__ import annotations

import json

import sqlalchemy as sa

from .. import models
from .._errors import NotFoundError
from ..jsonvalues import dumps
from ._values import _inserted_id, utcnow
from .changes import ChangesRepository


class JobsRepository(ChangesRepository):
    """Rows of the ``jobs`` table (the jobs run in-process: :mod:`geo_service.jobs`)."""

    def create_job(self, kind: str, params: dict, created_by: str | None) -> int:
        """A queued job (and its change-log row), in one transaction; return its id."""
        with self.transaction() as conn:
            jid = _inserted_id(
                conn.execute(
                    models.jobs.insert().values(
                        kind=kind, status="queued", params=dumps(params), created_by=created_by, created_at=utcnow()
                    )
                )
            )
            self.record_change(conn, created_by, "job_submit", "job", jid, {"kind": kind, "params": params})
        return jid

    def update_job(self, job_id: int, **values) -> None:
        """Set columns of a job (``result`` given as a value is stored as JSON)."""
        if "result" in values and not isinstance(values["result"], (str, type(None))):
            values["result"] = dumps(values["result"])
        with self.transaction() as conn:
            conn.execute(models.jobs.update().where(models.jobs.c.id == int(job_id)).values(**values))

    def get_job(self, job_id: int) -> dict:
        """One job with parsed ``params`` and ``result``; :class:`NotFoundError` when absent."""
        with self.read() as conn:
            row = conn.execute(sa.select(models.jobs).where(models.jobs.c.id == int(job_id))).first()
        if row is None:
            raise NotFoundError(f"no job {job_id}", f"没有编号为 {job_id} 的后台任务", job=job_id)
        return _job_row(row)

    def list_jobs(self, *, limit: int = 50, status: str | None = None) -> list[dict]:
        """Jobs, newest first (of one status when given)."""
        t = models.jobs
        stmt = sa.select(t).order_by(t.c.id.desc()).limit(int(limit))
        if status:
            stmt = stmt.where(t.c.status == status)
        with self.read() as conn:
            return [_job_row(r) for r in conn.execute(stmt)]

    def fail_unfinished_jobs(self, reason: str) -> int:
        """Jobs left queued or running by a service that stopped: marked failed (they run in-process)."""
        t = models.jobs
        with self.transaction() as conn:
            return conn.execute(
                t.update()
                .where(t.c.status.in_(["queued", "running"]))
                .values(status="failed", error=reason, finished_at=utcnow())
            ).rowcount


def _job_row(row) -> dict:
    """A ``jobs`` row as a dict with ``params`` and ``result`` parsed."""
    out = dict(row._mapping)
    out["params"] = json.loads(out.get("params") or "{}")
    out["result"] = json.loads(out["result"]) if out.get("result") else None
    return out
