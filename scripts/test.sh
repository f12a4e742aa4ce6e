#!/usr/bin/env bash
# Install everything the tests need (PostgreSQL + PostGIS included), start PostgreSQL if it is not running,
# check lint, formatting and the foundation's types, and run the whole test suite on SpatiaLite and PostGIS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# PostgreSQL on 127.0.0.1:5432: use it with trust auth for user postgres when it answers,
# else start the local cluster and connect over its socket as a superuser named like us.
pg_ok() { .venv/bin/python -c "import psycopg,sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$1" >/dev/null 2>&1; }
if [[ -z "${GEO_TEST_PG_ADMIN_URL:-}" ]]; then
    if pg_ok "postgresql://postgres@127.0.0.1:5432/postgres"; then
        export GEO_TEST_PG_ADMIN_URL="postgresql://postgres@127.0.0.1:5432/postgres"
    else
        v=$(ls /etc/postgresql | sort -n | tail -1)
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || $SUDO service postgresql start || true
        for _ in $(seq 30); do pg_isready -q && break; sleep 1; done
        me=$(id -un)
        if pg_ok "postgresql://postgres@127.0.0.1:5432/postgres"; then
            export GEO_TEST_PG_ADMIN_URL="postgresql://postgres@127.0.0.1:5432/postgres"
        else
            $SUDO runuser -u postgres -- psql -q -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$me') THEN CREATE ROLE \"$me\" SUPERUSER LOGIN; END IF; END\$\$;" postgres
            export GEO_TEST_PG_ADMIN_URL="postgresql://$me@/postgres?host=/var/run/postgresql"
        fi
    fi
fi
# Lint and types first: they take seconds and fail the run like a test (line length, imports, formatting).
echo ">> ruff check, ruff format --check, mypy (the foundation)"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
echo ">> PostGIS tests on $GEO_TEST_PG_ADMIN_URL"
exec .venv/bin/python -m pytest -q "$@"
