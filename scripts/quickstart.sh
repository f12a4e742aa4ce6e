#!/usr/bin/env bash
# Quick start: install, load the synthetic sample city into the embedded
# SpatiaLite database (data/geo_service.sqlite) and serve http://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/geo-service serve --sample-city "$@"
