"""Refresh the JavaScript/CSS assets the maps serve locally (no CDN at run time).

The assets are committed under ``maps/static/vendor/`` with their licences, so an installed
service works on an intranet without internet.  This script re-creates them from the npm registry
(pinned versions, checked against the SHA-256 recorded here) when a version is bumped::

    .venv/bin/python scripts/vendor_assets.py           # needs `npm` and the npm registry (set-up time only)

Only what the pages use is vendored: Leaflet (folium's version), Leaflet.VectorGrid (vector-tile
layers of large collections), Swagger UI (the ``/docs`` page), ReDoc (``/redoc``) and MapLibre GL JS
(the resident page and the planners' workbench: vector tiles with feature-state).  folium's other defaults (jQuery,
Bootstrap, Font Awesome, awesome-markers) are dropped from every page by :mod:`maps.assets`.
``SHA256SUMS`` in the vendor folder records every vendored file; tests/test_vendor_assets.py checks it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "maps" / "static" / "vendor"

# package, version, sha256 of the npm tarball, files to copy (tarball path -> vendor path), licence source
PACKAGES = [
    (
        "leaflet",
        "1.9.3",
        "10d016716b56048661eaf9cde004dc82e80bd3613b52c4f53cf5aec73088006c",
        {
            "package/dist/leaflet.js": "leaflet.js",
            "package/dist/leaflet.css": "leaflet.css",
            "package/dist/images/layers.png": "images/layers.png",
            "package/dist/images/layers-2x.png": "images/layers-2x.png",
            "package/dist/images/marker-icon.png": "images/marker-icon.png",
            "package/dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
            "package/dist/images/marker-shadow.png": "images/marker-shadow.png",
            "package/LICENSE": "LICENSE",
        },
    ),
    (
        "leaflet.vectorgrid",
        "1.3.0",
        "4eaf00b9c3c80e53d59a84a9d3523f1b9ae3149e709db6fa293e9c292739ed7e",
        {
            "package/dist/Leaflet.VectorGrid.bundled.min.js": "Leaflet.VectorGrid.bundled.min.js",
            "package/README.md": "README.md",  # holds the licence (Beerware)
        },
    ),
    (
        "swagger-ui-dist",
        "5.36.0",
        "685a2b38b5d6eab2dbc096a8596db11cc7409cdb671d2e3bec8f9b017d0d566b",
        {
            "package/swagger-ui-bundle.js": "swagger-ui-bundle.js",
            "package/swagger-ui.css": "swagger-ui.css",
            "package/favicon-32x32.png": "favicon-32x32.png",
            "package/LICENSE": "LICENSE",
            "package/NOTICE": "NOTICE",
            "package/swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-bundle.js.LICENSE.txt",
        },
    ),
    (
        "maplibre-gl",
        "5.24.1",
        "b84d7fdf7fba5922fd3fff9a92733936c7a03b99165afc6c84f41c311bdbfa9d",
        {
            "package/dist/maplibre-gl.js": "maplibre-gl.js",
            "package/dist/maplibre-gl.css": "maplibre-gl.css",
            "package/LICENSE.txt": "LICENSE.txt",
        },
    ),
    (
        "redoc",
        "2.5.2",
        "b80462bec8e96d985086b1a23768f46f0776ed37c719b9a752fd443557282e03",
        {"package/bundles/redoc.standalone.js": "redoc.standalone.js", "package/LICENSE": "LICENSE"},
    ),
]
SUMS = VENDOR / "SHA256SUMS"  # every vendored file's SHA-256, checked by tests/test_vendor_assets.py


def vendor_dir(package: str, version: str) -> Path:
    return VENDOR / f"{package}-{version}"


def refresh() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for package, version, sha, files in PACKAGES:
            subprocess.run(
                ["npm", "pack", f"{package}@{version}", "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL
            )
            tgz = Path(tmp) / f"{package}-{version}.tgz"
            digest = hashlib.sha256(tgz.read_bytes()).hexdigest()
            if digest != sha:
                raise SystemExit(f"{tgz.name}: sha256 {digest} != {sha}")
            dest = vendor_dir(package, version)
            shutil.rmtree(dest, ignore_errors=True)
            with tarfile.open(tgz) as tar:
                for src, rel in files.items():
                    out = dest / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(tar.extractfile(src).read())
            print(f"{package}@{version} -> {dest}")
    write_sums()


def write_sums() -> None:
    """Record the SHA-256 of every vendored file (``sha256sum`` format, paths relative to the vendor folder)."""
    files = sorted(p for p in VENDOR.rglob("*") if p.is_file() and p != SUMS)
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(VENDOR).as_posix()}" for p in files]
    SUMS.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    refresh()
