"""Background jobs: long analyses (a full recomputation) run beside the service.

A job is a row of the ``jobs`` table (queued -> running -> done | failed).

- Embedded default: it runs in a worker thread of the process that accepted it; the service keeps answering
  meanwhile.  A job whose process died is reported failed by the next status request on the same host.
- With ``GEO_REDIS_URL``: the job's id goes on a durable Redis list.  Every service process (``GEO_JOB_WORKERS``
  consumer threads each; 0 makes a process that only accepts jobs) moves ids from the queue to its own running list
  (``BLMOVE``, atomic), runs them, and removes them when finished.  Each process keeps a heartbeat key; the ids on the
  running list of a process whose heartbeat expired (killed, restarted) go back on the queue and run again (at least
  once: the analyses recompute from the stored layers, so a second run gives the same result).  A restarted service
  therefore loses no queued job.  When Redis does not answer, jobs run in the accepting process as in the default.
"""

from __future__ import annotations

import os
import socket
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

from .core.storage import utcnow

KINDS = {
    "coverage": "生活圈覆盖重新计算",
    "audit": "设施与避难场所审计重新计算",
    "full": "全部重新计算（覆盖与审计）",
    "units": "生成人口单元（按统计数分配常住人口、户数）",
    "delineate": "自动划分社区（生成草案）",
    "scenario_batch": "批量计算情景方案并与现状比较",
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

    if kind == "units":
        from population.service import run_units_job

        return run_units_job(store, params, created_by)
    if kind == "scenario_batch":
        from facilities.whatif.service import run_batch_job

        return run_batch_job(store, params, created_by)
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


HEARTBEAT_S = 5.0  # a process refreshes its heartbeat this often
HEARTBEAT_TTL_S = 15  # and is taken for dead (its running jobs requeued) when it has not for this long


class JobRunner:
    """Runs the jobs of one service process, ``workers`` at a time (default 1: analyses are CPU-bound).

    Parameters
    ----------
    store : Store
    workers : int
        Consumer threads.  With ``shared`` 0 is allowed: the process accepts jobs and others run them.
    shared : geo_service.core.shared_state.SharedState, optional
        Redis connection: jobs go on the durable queue (see the module docstring).
    """

    def __init__(self, store, workers: int = 1, shared=None):
        self.store = store
        self.label = _runner_label()
        self.shared = shared
        self.workers = int(workers)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        if shared is not None:
            self._queue = shared.key("jobs", "queue")
            self._running = shared.key("jobs", "running", self.label)
        self.start()

    def start(self) -> None:
        """Start the pool (and with Redis the heartbeat and consumers); again after :meth:`shutdown` (an app served,
        stopped and served again). Nothing happens when running."""
        if getattr(self, "_pool", None) is not None and not self._stop.is_set():
            return
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max(self.workers, 1), thread_name_prefix="geo-job")
        self._threads = []
        if self.shared is not None:
            self._start_thread(self._heartbeat_loop, "geo-job-heartbeat")
            for i in range(max(self.workers, 0)):
                self._start_thread(self._consume_loop, f"geo-job-consumer-{i}")

    def _start_thread(self, target, name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def submit(self, kind: str, params: dict, created_by: str | None) -> dict:
        job_id = self.store.create_job(kind, params, created_by)
        if self.shared is not None and self.shared.usable():
            try:
                self.shared.client.lpush(self._queue, job_id)
                return self.store.get_job(job_id)
            except Exception as exc:  # Redis down: run it here, as without Redis
                self.shared.mark_down(exc)
        self.store.update_job(job_id, runner=self.label)
        self._pool.submit(self._run, job_id, kind, params, created_by)
        return self.store.get_job(job_id)

    def _run(self, job_id: int, kind: str, params: dict, created_by: str | None) -> None:
        try:
            self.store.update_job(job_id, status="running", started_at=utcnow(), runner=self.label)
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

    # --- the durable queue (Redis) -------------------------------------------------------------------------------
    def _consume_loop(self) -> None:
        client = self.shared.client
        while not self._stop.is_set():
            try:
                raw = client.blmove(self._queue, self._running, 1, "RIGHT", "LEFT")
            except Exception as exc:  # Redis down: wait and try again; accepted jobs run in-process meanwhile
                self.shared.mark_down(exc)
                self._stop.wait(HEARTBEAT_S)
                continue
            if raw is None:
                continue
            try:
                self._run_queued(int(raw))
            finally:
                try:
                    client.lrem(self._running, 1, raw)
                except Exception as exc:  # the id stays listed; requeued only if this process dies
                    self.shared.mark_down(exc)

    def _run_queued(self, job_id: int) -> None:
        try:
            job = self.store.get_job(job_id)
        except Exception:  # deleted, or the database is down: nothing to run
            traceback.print_exc()
            return
        if job["status"] not in ("queued", "running"):  # done or failed: nothing left to do
            return  # ("running": requeued from a dead process, its status not yet reset when taken here)
        self._run(job_id, job["kind"], job["params"], job.get("created_by"))

    def _heartbeat_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.shared.client.set(self.shared.key("jobs", "runner", self.label), 1, ex=HEARTBEAT_TTL_S)
                self.requeue_orphans()
            except Exception as exc:
                self.shared.mark_down(exc)
            self._stop.wait(HEARTBEAT_S)

    def requeue_orphans(self) -> int:
        """Put the jobs of processes whose heartbeat expired back on the queue; return how many."""
        client = self.shared.client
        prefix = self.shared.key("jobs", "running", "")
        moved = 0
        for key in client.scan_iter(match=prefix + "*", count=100):
            label = key.decode() if isinstance(key, bytes) else key
            label = label[len(prefix) :]
            if label == self.label or client.exists(self.shared.key("jobs", "runner", label)):
                continue
            # reset the status before the id is visible on the queue: a consumer may take it at once, and a reset
            # after its start would overwrite its runner and status
            while (raw := client.lindex(key, -1)) is not None:
                self.store.update_job(int(raw), status="queued", runner=None, started_at=None)
                if client.lmove(key, self._queue, "RIGHT", "RIGHT") is None:
                    break
                moved += 1
        return moved

    # --- status ---------------------------------------------------------------------------------------------------
    def status(self, job_id: int) -> dict:
        job = self.store.get_job(job_id)
        if self.shared is None and job["status"] in ("queued", "running") and job.get("runner"):
            host, _, pid = job["runner"].rpartition(":")
            if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
                self.store.update_job(
                    job_id, status="failed", finished_at=utcnow(), error="服务进程已退出，任务中断，请重新提交"
                )
                job = self.store.get_job(job_id)
        return job

    def shutdown(self, wait: bool = False) -> None:
        self._stop.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)
        if wait:
            for t in self._threads:
                t.join(timeout=HEARTBEAT_S + 2)
