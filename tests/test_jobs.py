"""Background jobs: a full recomputation runs beside the service, which keeps answering (issue 7)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from geo_service.app import create_app
from tests._auth import token_headers
from tests.conftest import sample_city_store, wait_for_job


@pytest.fixture(scope="module")
def city(spatialite_template, tmp_path_factory):
    store = sample_city_store(spatialite_template, tmp_path_factory.mktemp("jobs_city"))
    yield store
    store.dispose()


def test_full_recomputation_runs_in_the_background(city):
    headers = token_headers(city, "facilities")
    lon, lat = 104.39, 31.13
    with TestClient(create_app(city)) as c:
        assert c.get(f"/nearest?lon={lon}&lat={lat}&k=1").status_code == 200  # the walking index is built once, before
        coverage_before = {r["id"] for r in c.get("/coverage/runs").json()}
        r = c.post("/jobs", json={"kind": "full"}, headers=headers)
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["status"] in ("queued", "running") and job["kind_zh"].startswith("全部重新计算")
        assert r.headers["location"].endswith(f"/jobs/{job['id']}")
        # While it runs, the service answers reads: a read counts when the job was running both before
        # it was sent and after its answer came (a read that waited for the job would see it done).
        # No timing: how fast is for the benchmarks, not for a test on a shared machine.
        answered_while_running = 0
        status = c.get(f"/jobs/{job['id']}").json()["status"]
        while status in ("queued", "running"):
            for path in ("/health", f"/nearest?lon={lon}&lat={lat}&k=1", "/layers/shelters?limit=5"):
                before = status
                assert c.get(path).status_code == 200, path
                status = c.get(f"/jobs/{job['id']}").json()["status"]
                answered_while_running += before == status == "running"
        done = wait_for_job(c, f"/jobs/{job['id']}")
        assert done["status"] == "done", done
        assert answered_while_running >= 3, "no read was answered while the job ran"
        assert done["started_at"] and done["finished_at"] and done["created_by"] == job["created_by"]
        runs = done["result"]
        assert set(runs) == {"coverage_run_id", "audit_run_id"}
        assert runs["coverage_run_id"] not in coverage_before
        assert c.get("/coverage/summary", params={}).json()["run"]["id"] == runs["coverage_run_id"]
        assert c.get("/audit/summary").json()["run"]["id"] == runs["audit_run_id"]
        listed = c.get("/jobs", params={"status": "done"}).json()
        assert listed[0]["id"] == job["id"]


def test_failed_job_reports_why(store):
    headers = token_headers(store, "planner")
    with TestClient(create_app(store)) as c:
        r = c.post("/jobs", json={"kind": "audit"}, headers=headers)  # an empty store: no network
        assert r.status_code == 202
        job = wait_for_job(c, r.headers["location"])
        assert job["status"] == "failed" and job["error"]
        assert c.get("/jobs/999999").status_code == 404
        assert c.post("/jobs", json={"kind": "everything"}, headers=headers).status_code == 422


def test_job_of_a_dead_process_is_reported_failed(store):
    """A job left 'running' by a service process that died is failed by the next status request."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_pid = int(proc.stdout)
    import socket

    jid = store.create_job("full", {}, "someone (planner)")
    store.update_job(jid, status="running", runner=f"{socket.gethostname()}:{dead_pid}")
    with TestClient(create_app(store)) as c:
        job = c.get(f"/jobs/{jid}").json()
    assert job["status"] == "failed" and "中断" in job["error"]
