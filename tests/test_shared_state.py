"""The service as several processes (issue 18, item 5): shared rate limits and a durable job queue through Redis.

- two server processes (``uvicorn --workers 2``) with ``GEO_REDIS_URL`` allow one client its burst once, not twice;
- a job accepted by a process that runs none (``GEO_JOB_WORKERS=0``) survives that process's death and is run by
  the next process;
- the running jobs of a process whose heartbeat expired go back on the queue and run;
- Redis down: ``/health`` answers 200 with a warning, limits fall back to the process, jobs run in-process.

Redis runs on 127.0.0.1:6379 on these machines; without it the tests skip (fail in CI).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import httpx
import pytest
from _auth import token_headers
from _pg_cluster import ServiceProcess, service_env

from geo_service.core.shared_state import SharedState, namespace_of

REDIS_URL = os.environ.get("GEO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def _redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:  # the connection error of whatever kind
        if os.environ.get("CI"):
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")


@pytest.fixture
def services():
    started: list[ServiceProcess] = []

    def start(kind: str, env: dict[str, str], log: Path, **kw) -> ServiceProcess:
        svc = getattr(ServiceProcess, kind)(env, log, **kw)
        started.append(svc)
        svc.wait_ready()
        return svc

    yield start
    for svc in started:
        svc.stop()


def test_two_processes_share_one_rate_limit(tiny_world_dir, services, tmp_path):
    _redis_or_skip()
    _, data = tiny_world_dir
    # 0.01 tokens/s: nothing refills during the test; a burst of 6 per client address
    env = service_env(data, GEO_REDIS_URL=REDIS_URL, GEO_RATE_LIMIT_RPS="0.01", GEO_RATE_LIMIT_BURST="6")
    one = services("serve", env, tmp_path / "one.log")
    two = services("serve", env, tmp_path / "two.log")  # each start spent one token on /health
    codes = []
    with httpx.Client(timeout=10) as client:
        for i in range(20):  # alternate: separate buckets would let 2 x 6 through
            codes.append(client.get((one, two)[i % 2].base + "/metadata").status_code)
    assert set(codes) <= {200, 429}, codes
    assert codes.count(200) == 4, f"two processes sharing Redis let {codes.count(200)} of 20 through: {codes}"
    again = httpx.get(two.base + "/metadata", timeout=10)
    assert again.status_code == 429 and int(again.headers["retry-after"]) >= 1
    assert "请求过于频繁" in again.json()["message_zh"]


def _submit(base: str, headers: dict, kind: str = "coverage") -> dict:
    r = httpx.post(base + "/jobs", json={"kind": kind}, headers=headers, timeout=30)
    assert r.status_code == 202, r.text
    return r.json()


def _wait_job(base: str, job_id: int, timeout: float = 120) -> dict:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        job = httpx.get(f"{base}/jobs/{job_id}", timeout=10).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} not finished after {timeout} s: {job}")


def test_queued_job_survives_a_restart(tiny_world_dir, services, tmp_path):
    _redis_or_skip()
    store, data = tiny_world_dir
    headers = token_headers(store, "admin")
    env = service_env(data, GEO_REDIS_URL=REDIS_URL)
    front = services("serve", {**env, "GEO_JOB_WORKERS": "0"}, tmp_path / "front.log")
    job = _submit(front.base, headers)
    time.sleep(1.5)
    assert httpx.get(f"{front.base}/jobs/{job['id']}", timeout=10).json()["status"] == "queued"
    front.stop()  # the process that accepted the job is gone; the job is on the Redis queue

    worker = services("serve", {**env, "GEO_JOB_WORKERS": "1"}, tmp_path / "worker.log")
    done = _wait_job(worker.base, job["id"])
    assert done["status"] == "done", done["error"]
    assert done["result"]["coverage_run_id"] >= 1
    assert store.get_job(job["id"])["status"] == "done"


def test_jobs_of_a_dead_process_are_requeued(tiny_world_dir):
    _redis_or_skip()
    from geo_service.jobs import JobRunner

    store, _ = tiny_world_dir
    shared = SharedState(REDIS_URL, namespace_of(store.settings.resolved_database_url) + uuid.uuid4().hex[:6] + ":")
    job_id = store.create_job("coverage", {}, "tester")
    store.update_job(job_id, status="running", runner="elsewhere:999999")
    shared.client.lpush(shared.key("jobs", "running", "elsewhere:999999"), job_id)  # no heartbeat for that process
    runner = JobRunner(store, workers=1, shared=shared)
    try:
        t0 = time.perf_counter()
        while store.get_job(job_id)["status"] not in ("done", "failed") and time.perf_counter() - t0 < 90:
            time.sleep(0.3)
        job = store.get_job(job_id)
        assert job["status"] == "done", job
        assert job["runner"] == runner.label
        assert shared.client.llen(shared.key("jobs", "running", "elsewhere:999999")) == 0
    finally:
        runner.shutdown(wait=True)
        for key in shared.client.scan_iter(match=shared.ns + "*"):
            shared.client.delete(key)


def test_redis_down_is_a_warning_not_an_error(tiny_world_dir, services, tmp_path):
    store, data = tiny_world_dir
    headers = token_headers(store, "admin")
    limits = {"GEO_RATE_LIMIT_RPS": "0.01", "GEO_RATE_LIMIT_BURST": "40"}
    svc = services("serve", service_env(data, GEO_REDIS_URL=DEAD_REDIS_URL, **limits), tmp_path / "down.log")
    health = httpx.get(svc.base + "/health", timeout=10)
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["redis"] == "unavailable"
    assert any("Redis" in w and "限流按进程" in w for w in body["warnings_zh"])
    # jobs run in the accepting process
    done = _wait_job(svc.base, _submit(svc.base, headers)["id"])
    assert done["status"] == "done", done
    # and the per-process limit still holds: the 40-request burst runs out
    codes = [httpx.get(svc.base + "/metadata", timeout=10).status_code for _ in range(45)]
    assert 429 in codes and 500 not in codes and 503 not in codes
