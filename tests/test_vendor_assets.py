"""The vendored JavaScript/CSS (Leaflet, Leaflet.VectorGrid, Swagger UI) match their recorded SHA-256 sums."""

from __future__ import annotations

import hashlib
from pathlib import Path

from maps.assets import STATIC_DIR

VENDOR = STATIC_DIR / "vendor"


def _sums() -> dict[str, str]:
    lines = (VENDOR / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {path: digest for digest, path in (line.split("  ", 1) for line in lines if line.strip())}


def test_every_vendored_file_has_its_recorded_sha256():
    sums = _sums()
    files = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file() and p.name != "SHA256SUMS"}
    assert files == set(sums), "vendored files and SHA256SUMS differ: run scripts/vendor_assets.py"
    for rel, digest in sums.items():
        assert hashlib.sha256((VENDOR / rel).read_bytes()).hexdigest() == digest, rel


def test_every_vendored_package_carries_its_licence():
    for package in {Path(rel).parts[0] for rel in _sums()}:
        names = {Path(rel).name for rel in _sums() if Path(rel).parts[0] == package}
        assert names & {"LICENSE", "LICENSE.txt", "README.md"}, package  # Leaflet.VectorGrid's licence is in its README
