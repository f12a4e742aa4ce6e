"""Stage 15 of the sample city: the ``hazards`` layer (Art. 15).

A fault zone crossing the city from south-west to north-east (the Longmenshan faults run that way west of Deyang),
the river's flood extent, and two geological hazard points.  Drawn from ``default_rng([seed, 16])``: no other layer
changes.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

METRIC_EPSG = 4544


def build_hazards(admin_areas: gpd.GeoDataFrame, barriers: gpd.GeoDataFrame, seed: int) -> gpd.GeoDataFrame:
    """The hazards of the sample city, EPSG:4326 (``source_id``, ``name``, ``kind``, ``level``, ``radius_m``).

    The fault and the points carry no radius: the norms give it (``hazards.*_default_radius_m``).
    """
    rng = np.random.default_rng([int(seed), 16])
    county = admin_areas[admin_areas["level"] == "county"].to_crs(METRIC_EPSG).geometry.union_all()
    minx, miny, maxx, maxy = county.bounds
    w, h = maxx - minx, maxy - miny
    x0 = minx + w * rng.uniform(0.10, 0.20)
    fault = shapely.LineString([(x0, miny - 100), (x0 + 0.4 * w, maxy + 100)]).intersection(county)
    rows = [("sample:hazard:fault:1", "示例断裂带", "fault_zone", "high", None, fault)]
    rivers = barriers[barriers["barrier_type"] == "river"].to_crs(METRIC_EPSG)
    if len(rivers):
        flood = rivers.geometry.buffer(40.0).union_all().intersection(county)
        if not flood.is_empty:
            rows.append(("sample:hazard:flood:1", "示例河道洪水淹没区", "flood", "medium", None, flood))
    for i in range(2):
        pt = shapely.Point(minx + w * rng.uniform(0.02, 0.12), miny + h * rng.uniform(0.2, 0.8))
        rows.append((f"sample:hazard:geo:{i + 1}", f"示例滑坡隐患点{i + 1}", "geohazard", "high", None, pt))
    frame = gpd.GeoDataFrame(
        {
            "source_id": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "kind": [r[2] for r in rows],
            "level": [r[3] for r in rows],
            "radius_m": pd.Series([r[4] for r in rows], dtype="float64"),
        },
        geometry=[r[5] for r in rows],
        crs=METRIC_EPSG,
    )
    return frame.to_crs(4326)
