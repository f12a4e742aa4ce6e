"""Background jobs: long analyses (a full recomputation) run beside the service.

A job is a row of the ``jobs`` table (queued -> running -> done | failed) and
runs in a worker thread of the process that accepted it; the service keeps
answering meanwhile.  A job whose process died is reported failed by the
next status request on the same host.
"""

from __future__ import annotations

import os
import socket
import traceback
from concurrent.futures import ThreadPoolExecutor

from .core.storage import utcnow

KINDS = {
    "coverage": "生活圈覆盖重新计算",
    "audit": "设施与避难场所审计重新计算",
    "full": "全部重新计算（覆盖与审计）",
    "units": "生成人口单元（按统计数分配常住人口、户数）",
}


def _runner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_job(store, kind: str, params: dict, created_by: str | None) -> dict:
    """Do the work of one job; return its result (the run ids)."""
    from facilities.audit import AuditParams
    from facilities.audit_service import current_audit
    from facilities.coverage import CoverageParams
    from facilities.service import current_coverage

    if kind == "units":  # totals come as JSON rows in the job's params (no file upload yet)
        from population.params import UnitsParams
        from population.service import build_units

        up = UnitsParams.from_input(store.norms, rows=params.get("totals"), levels=params.get("levels"))
        run = build_units(store, up, created_by=created_by, recompute=True)
        return {"units_run_id": int(run["id"]), "units": run["summary"]["units"]}
    plan = params.get("plan")
    out = {}
    if kind in ("coverage", "full"):
        cp = CoverageParams.from_input(walking_speed_mps=params.get("walking_speed_mps"))
        run = current_coverage(store, params=cp, plan=plan, recompute=True, created_by=created_by)
        out["coverage_run_id"] = int(run["id"])
    if kind in ("audit", "full"):
        ap = AuditParams.from_input(params.get("walk_limit_m"), params.get("day_night_factor"))
        run = current_audit(store, params=ap, plan=plan, recompute=True, created_by=created_by)
        out["audit_run_id"] = int(run["id"])
    return out


class JobRunner:
    """Runs jobs of one service process, ``workers`` at a time (default 1: analyses are CPU-bound)."""

    def __init__(self, store, workers: int = 1):
        self.store = store
        self.label = _runner_label()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="geo-job")

    def submit(self, kind: str, params: dict, created_by: str | None) -> dict:
        job_id = self.store.create_job(kind, params, created_by)
        self.store.update_job(job_id, runner=self.label)
        self._pool.submit(self._run, job_id, kind, params, created_by)
        return self.store.get_job(job_id)

    def _run(self, job_id: int, kind: str, params: dict, created_by: str | None) -> None:
        try:
            self.store.update_job(job_id, status="running", started_at=utcnow())
            result = run_job(self.store, kind, params, created_by)
            self.store.update_job(job_id, status="done", finished_at=utcnow(), result=result)
        except Exception as exc:  # recorded on the job; the service goes on
            message = getattr(exc, "message_zh", None) or str(exc)
            try:
                self.store.update_job(
                    job_id, status="failed", finished_at=utcnow(), error=f"{type(exc).__name__}: {message}"[:2000]
                )
            except Exception:
                traceback.print_exc()

    def status(self, job_id: int) -> dict:
        job = self.store.get_job(job_id)
        if job["status"] in ("queued", "running") and job.get("runner"):
            host, _, pid = job["runner"].rpartition(":")
            if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
                self.store.update_job(
                    job_id, status="failed", finished_at=utcnow(), error="服务进程已退出，任务中断，请重新提交"
                )
                job = self.store.get_job(job_id)
        return job

    def shutdown(self, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
