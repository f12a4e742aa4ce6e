"""Private PostgreSQL clusters and service subprocesses for the fault tests (tests/test_faults.py).

A :class:`PgCluster` is a throw-away cluster (``initdb`` into a temporary
directory, its own port, its unix socket inside that directory) that a test
may stop and start at will: the shared server on 127.0.0.1:5432 is never
touched.  ``initdb`` refuses to run as root, so as root every PostgreSQL
program runs as the ``postgres`` OS user (``runuser``).

:class:`ServiceProcess` runs the real service (``geo-service serve`` or
uvicorn with workers) in its own process group, so that stopping it stops
its workers too.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bindir() -> Path | None:
    """The newest PostgreSQL server binaries (``/usr/lib/postgresql/N/bin``) with PostGIS installed next to them."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        version = Path(initdb).parents[1].name
        if glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"):
            found.append((int(version) if version.isdigit() else 0, Path(initdb).parent))
    return max(found)[1] if found else None


def unavailable_reason() -> str | None:
    """Why a private cluster cannot be made here, or None."""
    if pg_bindir() is None:
        return "no PostgreSQL server binaries with PostGIS (/usr/lib/postgresql/N/bin/initdb + postgresql-N-postgis-3)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' OS user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


class PgCluster:
    """A private PostgreSQL cluster in a temporary directory, on its own port."""

    def __init__(self):
        self.bindir = pg_bindir()
        # as root the directory is handed to the postgres user: keep it where that user can reach it
        self.root = Path(tempfile.mkdtemp(prefix="geo-pg-", dir="/tmp" if os.geteuid() == 0 else None))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.running = False
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._prefix = ["runuser", "-u", "postgres", "--"]
        else:
            self._prefix = []
        self.user = "postgres"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [*self._prefix, str(self.bindir / args[0]), *args[1:]]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root, check=False)
        if res.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}\n{self.log_tail()}"
            )
        return res

    def init(self) -> PgCluster:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
            timeout=120,
        )
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                "max_connections = 60\nshared_buffers = 32MB\nlogging_collector = off\n"
            )
        return self

    def start(self) -> float:
        """Start the server, wait until it accepts connections; return the seconds it took."""
        t0 = time.perf_counter()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start", timeout=90)
        self.running = True
        return time.perf_counter() - t0

    def stop(self, mode: str = "fast") -> float:
        """``pg_ctl stop -m fast|immediate`` (immediate = a crash: no checkpoint, recovery on the next start)."""
        t0 = time.perf_counter()
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", timeout=90)
        self.running = False
        return time.perf_counter() - t0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """``CREATE DATABASE name`` with the postgis extension; return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(self.url(name), autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        return self.url(name)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def destroy(self) -> None:
        """Stop the server however it can be stopped, and delete the directory."""
        if self.data.exists() and (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "20", "stop", timeout=30)
            except Exception:  # noqa: BLE001 - cleanup must go on whatever pg_ctl did
                try:  # pg_ctl failed: kill the postmaster by the pid it wrote
                    pid = int((self.data / "postmaster.pid").read_text().split()[0])
                    os.kill(pid, signal.SIGKILL)
                except (OSError, ValueError, IndexError):
                    pass
        self.running = False
        shutil.rmtree(self.root, ignore_errors=True)


def service_env(data: Path, **extra: str) -> dict[str, str]:
    """This process's environment for a service subprocess on the store under ``data`` (no Redis, no rate limit)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GEO_DATA_DIR", "GEO_REDIS_URL")}
    env.update(GEO_DATA_DIR=str(data), PYTHONUNBUFFERED="1", GEO_RATE_LIMIT_RPS="0")
    env.update(extra)
    return env


class ServiceProcess:
    """The service in a subprocess (own process group), logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        self._logf = open(log, "wb")  # noqa: SIM115 - open for the life of the process, closed in stop()
        self.proc = subprocess.Popen(args, env=env, stdout=self._logf, stderr=subprocess.STDOUT, start_new_session=True)

    @classmethod
    def serve(cls, env: dict[str, str], log: Path) -> ServiceProcess:
        """``geo-service serve`` on a free port."""
        port = free_port()
        args = [
            sys.executable,
            "-c",
            "from geo_service.cli import app; app()",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        return cls(args, env, log, port)

    @classmethod
    def uvicorn(cls, env: dict[str, str], log: Path, workers: int = 2) -> ServiceProcess:
        """``uvicorn geo_service.app:create_app --factory --workers N`` on a free port."""
        port = free_port()
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            "geo_service.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ]
        return cls(args, env, log, port)

    def wait_ready(self, timeout: float = 90, path: str = "/health") -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.base + path, timeout=2).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"service not ready after {timeout} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        try:
            self._logf.flush()
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to the process group (the server and its workers), SIGKILL after 10 s."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        else:  # the parent is gone; its workers (same group) may not be
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._logf.close()
