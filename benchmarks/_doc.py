"""Shared pieces of the benchmark scripts: the marked section of docs/benchmarks.md, tile lists."""

from __future__ import annotations

import math
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(block: str, start: str, end: str, doc: Path = DOC) -> None:
    """Replace the part of ``doc`` between the markers ``start`` and ``end`` (both inside ``block``), or append it."""
    text = doc.read_text(encoding="utf-8")
    if start in text and end in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _m: block, text, count=1, flags=re.DOTALL)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")


def tiles_covering(bounds, z: int) -> list[tuple[int, int, int]]:
    """Web-Mercator tiles ``(z, x, y)`` covering a lon/lat box ``(minx, miny, maxx, maxy)`` at zoom ``z``."""
    minx, miny, maxx, maxy = bounds
    n = 1 << z

    def xy(lon, lat):
        return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    x0, y0 = xy(minx, maxy)
    x1, y1 = xy(maxx, miny)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
