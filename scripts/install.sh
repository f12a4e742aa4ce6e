#!/usr/bin/env bash
# Install what the service needs on Debian/Ubuntu: system packages, a virtual
# environment in .venv and the package itself.  Idempotent; run as root or with sudo.
#   scripts/install.sh            service only (SpatiaLite)
#   scripts/install.sh --test     also PostgreSQL + PostGIS and the test dependencies
set -euo pipefail
cd "$(dirname "$0")/.."

WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# ---------------------------------------------------------------- system packages
pg_version() {
    # PostgreSQL major version this distribution ships (15 on Debian 12, 16 on Ubuntu 24.04...)
    if ls /etc/postgresql 2>/dev/null | grep -q .; then ls /etc/postgresql | sort -n | tail -1; return; fi
    apt-cache depends postgresql 2>/dev/null | sed -n 's/.*Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -1
}

need=(libsqlite3-mod-spatialite python3 python3-venv python3-dev build-essential)
# test extras: GDAL's OAPIF client, headless Chromium for the browser tests, a CJK font for their screenshots,
# wrk for the HTTP load benchmark (benchmarks/load.py), poppler-utils to read the rendered PDFs in the tests
# the CJK font and LibreOffice Writer (the report as PDF) are for the service itself: posters and reports
need+=(fonts-wqy-zenhei libreoffice-writer-nogui)
if [[ $WITH_TEST -eq 1 ]]; then need+=(postgresql postgresql-contrib gdal-bin chromium chromium-driver wrk poppler-utils); fi
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo ">> apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [[ $WITH_TEST -eq 1 ]]; then
    v=$(pg_version)
    if ! dpkg -s "postgresql-$v-postgis-3" >/dev/null 2>&1; then
        echo ">> apt-get install postgresql-$v-postgis-3"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "postgresql-$v-postgis-3" >/dev/null
    fi
fi

# ---------------------------------------------------------------- python
# A Python >= 3.11 whose sqlite3 can load extensions (Debian's can; pysqlite3-binary
# covers the others and is installed as a dependency on x86_64 Linux).
PY=""
for cand in python3 python3.13 python3.12 python3.11; do
    exe=$(command -v "/usr/bin/$cand" || true)
    [[ -z "$exe" ]] && continue
    if "$exe" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then PY="$exe"; break; fi
done
if [[ -z "$PY" ]]; then
    echo ">> no Python >= 3.11 found; installing python3.11"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3.11 python3.11-venv python3.11-dev >/dev/null
    PY=/usr/bin/python3.11
fi
if [[ ! -x .venv/bin/python ]]; then
    echo ">> creating .venv with $PY"
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
extra=""
[[ $WITH_TEST -eq 1 ]] && extra="[test]"
echo ">> pip install -e .$extra"
if ! .venv/bin/python -m pip install -e ".$extra" > .venv/pip-install.log 2>&1; then
    tail -40 .venv/pip-install.log
    echo "!! pip install failed; full log in .venv/pip-install.log" >&2
    exit 1
fi
.venv/bin/python - <<'PY'
from geo_service.core._db import sqlite_module
m = sqlite_module()
c = m.connect(":memory:"); c.enable_load_extension(True); c.load_extension("mod_spatialite")
print(">> SpatiaLite", c.execute("select spatialite_version()").fetchone()[0], "via", m.__name__)
PY
