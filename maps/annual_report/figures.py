"""The report's maps, drawn offline with matplotlib (no basemap, no internet): one PNG per chapter.

Every map is drawn in the metric CRS of the data (:func:`geo_service.core.crs.metric_crs_for`: the CGCS2000
3-degree Gauss-Krüger zone in China), with the streets' boundaries and names, a legend, a scale bar in metres and a
north arrow turned by the grid convergence of the projection. Labels use the CJK font
:data:`CJK_FONT` (WenQuanYi Zen Hei). Figures are made with :class:`matplotlib.figure.Figure` and the Agg canvas,
never pyplot, so rendering holds no global state between threads.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import shapely
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle
from matplotlib.path import Path as MplPath

from geo_service.core.crs import metric_crs_for

from ..audit import ISSUE_CLASSES
from ..facilities import SHELTER_COLORS
from .data import ReportInputs

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
FONT_FAMILY = "WenQuanYi Zen Hei"
FIGSIZE_IN = (8.0, 5.8)
MAP_AXES = (0.01, 0.02, 0.68, 0.96)  # left, bottom, width, height (figure fraction); legend to the right
DPI = 150
BAND_COLORS = {"偏少": "#fdae61", "达标": "#a6d96a", "偏多": "#d7191c"}
COVER_CLASSES = [(0.25, "#d7191c", "不足 25%"), (0.5, "#fdae61", "25%–50%"), (0.75, "#a6d96a", "50%–75%")]
COVER_CLASSES += [(1.01, "#1a9641", "75% 及以上")]
UNPLACED_CLASSES = [(0.0, "#f0f0f0", "全部可安置"), (0.5, "#cbc9e2", "部分无法安置（≤ 50%）")]
UNPLACED_CLASSES += [(1.01, "#756bb1", "大部分无法安置（> 50%）")]
NICE_LENGTHS_M = (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000)
CJK_NAMES = ("WenQuanYi", "Noto Sans CJK", "Noto Serif CJK", "Source Han", "SimHei", "SimSun", "Microsoft YaHei")
_FAMILY: list[str] = []


def _font() -> dict:
    """rc settings with a CJK font: :data:`CJK_FONT` registered once per process, else the first installed font
    whose name is one of :data:`CJK_NAMES` (DejaVu Sans, without Chinese glyphs, only when none is installed)."""
    if not _FAMILY:
        family = None
        if CJK_FONT.exists():
            font_manager.fontManager.addfont(str(CJK_FONT))
            family = FONT_FAMILY
        else:
            names = sorted({f.name for f in font_manager.fontManager.ttflist})
            family = next((n for pre in CJK_NAMES for n in names if n.startswith(pre)), None)
        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # "weight normal: using 500" each text
        _FAMILY[:] = [family] if family else ["DejaVu Sans"]
    return {"font.family": list(_FAMILY), "font.weight": 500, "figure.titleweight": 500, "axes.unicode_minus": False}


# ----------------------------------------------------------------------------- map furniture
def scale_bar(ax, width_m: float) -> float:
    """A black-and-white scale bar of about a fifth of the map width at the lower left; returns its length (m)."""
    target = width_m / 5
    length = max((n for n in NICE_LENGTHS_M if n <= target), default=NICE_LENGTHS_M[0])
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    h = (y1 - y0) * 0.012
    bx, by = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.05
    for i in range(4):
        ax.add_patch(
            Rectangle(
                (bx + i * length / 4, by),
                length / 4,
                h,
                facecolor="black" if i % 2 == 0 else "white",
                edgecolor="black",
                linewidth=0.6,
                zorder=20,
            )
        )
    for frac in (0, 0.5, 1):
        ax.text(
            bx + frac * length, by + h * 1.6, f"{length * frac:,.0f}", ha="center", va="bottom", fontsize=7, zorder=20
        )
    ax.text(bx + length + (x1 - x0) * 0.012, by + h / 2, "米", ha="left", va="center", fontsize=7, zorder=20)
    return float(length)


def convergence_deg(crs, lon: float, lat: float) -> float:
    """Angle (degrees, counter-clockwise) from grid north to true north at (lon, lat) in ``crs``."""
    from pyproj import Transformer

    tr = Transformer.from_crs(4326, crs, always_xy=True)
    x0, y0 = tr.transform(lon, lat)
    x1, y1 = tr.transform(lon, lat + 0.01)
    return math.degrees(math.atan2(-(x1 - x0), y1 - y0))


def north_arrow(fig, angle_deg: float) -> None:
    """A north arrow right of the map's upper corner, turned by ``angle_deg`` (grid convergence)."""
    cx, cy, r = 0.78, 0.86, 0.05
    a = math.radians(angle_deg)
    dx, dy = -math.sin(a) * r, math.cos(a) * r
    fig.patches.append(
        FancyArrowPatch(
            (cx - dx, cy - dy),
            (cx + dx, cy + dy),
            transform=fig.transFigure,
            arrowstyle="-|>,head_width=4,head_length=8",
            color="black",
            lw=1.6,
        )
    )
    fig.text(cx + dx * 1.5, cy + dy * 1.5, "北", ha="center", va="center", fontsize=11)


def _legend(fig, handles, title: str) -> None:
    """The legend in the column right of the map, below the north arrow."""
    fig.legend(
        handles=handles,
        title=title,
        loc="upper left",
        bbox_to_anchor=(0.70, 0.76),
        fontsize=9,
        title_fontsize=9.5,
        frameon=False,
        alignment="left",
    )


def _streets(ax, streets_m: gpd.GeoDataFrame) -> None:
    streets_m.boundary.plot(ax=ax, color="#252525", linewidth=1.0, zorder=10)
    for geom, name in zip(streets_m.geometry, streets_m["name"]):
        p = geom.representative_point()
        ax.text(
            p.x,
            p.y,
            str(name),
            ha="center",
            va="center",
            fontsize=8,
            color="#000000",
            zorder=15,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.6},
        )


def draw(
    inputs: ReportInputs,
    title: str,
    paint: Callable[[object, object], tuple[list, str]],
) -> bytes:
    """A PNG map: ``paint(ax, crs)`` draws the chapter's layers and returns (legend handles, legend title)."""
    streets = inputs.streets
    crs = metric_crs_for(streets)
    streets_m = streets.to_crs(crs)
    with matplotlib.rc_context(_font()):
        fig = Figure(figsize=FIGSIZE_IN, dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_axes(MAP_AXES)
        handles, legend_title = paint(ax, crs)
        _streets(ax, streets_m)
        x0, y0, x1, y1 = streets_m.total_bounds
        pad = max(x1 - x0, y1 - y0) * 0.04
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad * 2.5, y1 + pad)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
        for s in ax.spines.values():
            s.set_linewidth(0.6)
        scale_bar(ax, x1 - x0)
        c = streets.union_all().centroid
        north_arrow(fig, convergence_deg(crs, c.x, c.y))
        _legend(fig, handles, legend_title)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Title": title})  # the caption is the template's
    return buf.getvalue()


def fill_polygons(ax, geoms, colours, *, edgecolor="none", linewidth: float = 0.0, zorder: int = 2) -> None:
    """Polygons and multipolygons (metric CRS) filled with ``colours``, as one PathCollection.

    One compound path per feature from :func:`shapely.to_ragged_array` (about ten times faster than
    ``GeoDataFrame.plot``, which makes a patch per polygon).
    """
    geoms = np.asarray(geoms, dtype=object)
    if geoms.size == 0:
        return
    _, coords, offsets = shapely.to_ragged_array(geoms)  # polygons promoted when multipolygons are among them
    ring_off, part_off = offsets[0], offsets[1]
    geom_off = offsets[2] if len(offsets) == 3 else np.arange(len(part_off))
    codes = np.full(len(coords), MplPath.LINETO, dtype=np.uint8)
    codes[ring_off[:-1]] = MplPath.MOVETO
    codes[ring_off[1:] - 1] = MplPath.CLOSEPOLY
    starts = ring_off[part_off[geom_off]]
    paths = [MplPath(coords[a:b], codes[a:b]) for a, b in zip(starts[:-1], starts[1:])]
    ax.add_collection(
        PathCollection(paths, facecolors=list(colours), edgecolors=edgecolor, linewidths=linewidth, zorder=zorder)
    )


def _classes(values: np.ndarray, classes) -> tuple[np.ndarray, list]:
    """Colour per value by upper class bounds ``[(upper, colour, label)]``; the legend patches."""
    colours = np.full(values.shape, classes[-1][1], dtype=object)
    for upper, colour, _ in reversed(classes):
        colours[values < upper] = colour
    return colours, [Patch(facecolor=c, edgecolor="#555555", linewidth=0.5, label=lab) for _, c, lab in classes]


# ----------------------------------------------------------------------------- the four maps
def art3_map(inputs: ReportInputs) -> bytes:
    """Communities of the adopted plan by household band (偏少 / 达标 / 偏多)."""
    comm = inputs.evaluation.communities
    g = gpd.GeoDataFrame(
        {"households": comm["households"].to_numpy(), "lo": comm["band_min"].to_numpy(), "hi": comm["band_max"]},
        geometry=gpd.GeoSeries(comm["geometry_wgs84"].to_numpy(), crs=4326),
    )
    status = np.where(g["households"] < g["lo"], "偏少", np.where(g["households"] > g["hi"], "偏多", "达标"))
    lo, hi = inputs.evaluation.totals["band"]

    def paint(ax, crs):
        fill_polygons(
            ax, g.to_crs(crs).geometry.values, [BAND_COLORS[s] for s in status], edgecolor="white", linewidth=0.5
        )
        labels = {"偏少": f"户数少于 {lo:,}", "达标": f"{lo:,}–{hi:,} 户", "偏多": f"户数多于 {hi:,}"}
        h = [Patch(facecolor=c, edgecolor="#555555", linewidth=0.5, label=labels[k]) for k, c in BAND_COLORS.items()]
        return h + [Line2D([], [], color="#252525", lw=1.0, label="街道界线")], "社区户数"

    return draw(inputs, f"图1  社区户数与户数范围（{inputs.plan['name']}）", paint)


def art12_map(inputs: ReportInputs) -> bytes:
    """Population units by the share of the 5-minute life circle's categories within their walking distance."""
    units = inputs.coverage_tables["units"]
    five = next(lv.get("required") or [] for lv in inputs.coverage["summary"]["levels"] if lv["level"] == "5min")
    cols = [f"{c}_covered" for c in five if f"{c}_covered" in units.columns]
    share = units[cols].fillna(False).astype(bool).mean(axis=1).to_numpy() if cols else np.zeros(len(units))
    colours, handles = _classes(share, COVER_CLASSES)

    def paint(ax, crs):
        fill_polygons(ax, units.to_crs(crs).geometry.values, colours)
        return handles + [
            Line2D([], [], color="#252525", lw=1.0, label="街道界线")
        ], "步行可达的5分钟生活圈设施类别比例"

    return draw(inputs, "图2  5分钟生活圈设施步行可达情况（按人口单元）", paint)


def art15_map(inputs: ReportInputs) -> bytes:
    """Units by the share of their residents without an emergency shelter place, and the shelters by class."""
    t = inputs.audit_tables
    empty = gpd.GeoDataFrame(
        {"emergency_demand": [], "emergency_unplaced": [], "capacity_persons": [], "shelter_class": []},
        geometry=[],
        crs=4326,
    )
    units = t.get("units", empty)
    demand = units["emergency_demand"].to_numpy(dtype=float)
    unplaced = units["emergency_unplaced"].fillna(0).to_numpy(dtype=float)
    share = np.divide(unplaced, demand, out=np.zeros_like(demand), where=demand > 0)
    share = np.where(share <= 0, -1.0, share)  # none unplaced: the first class
    colours, handles = _classes(share, UNPLACED_CLASSES)
    shelters = t.get("shelters", empty)
    limit = (inputs.audit["summary"].get("emergency") or {}).get("walk_limit_m")
    title = f"紧急避难（步行 {limit:,.0f} 米内）" if limit else "紧急避难"

    def paint(ax, crs):
        fill_polygons(ax, units.to_crs(crs).geometry.values, colours)
        sh = shelters.to_crs(crs)
        pts = sh.geometry.representative_point()  # points, or a point inside a shelter drawn as an area
        cap = sh["capacity_persons"].fillna(0).to_numpy(dtype=float)
        size = 6 + 60 * np.sqrt(cap / max(cap.max(initial=0.0), 1.0))
        h = list(handles)
        for cls, colour in SHELTER_COLORS.items():
            m = (sh["shelter_class"] == cls).to_numpy()
            if m.any():
                ax.scatter(
                    pts.x[m],
                    pts.y[m],
                    s=size[m],
                    c=colour,
                    edgecolors="white",
                    linewidths=0.5,
                    zorder=12,
                )
                label = str(sh["shelter_class_zh"][m].iloc[0])
                h.append(
                    Line2D(
                        [],
                        [],
                        marker="o",
                        ls="",
                        markerfacecolor=colour,
                        markeredgecolor="white",
                        ms=7,
                        label=f"{label}（{int(m.sum())} 处）",
                    )
                )
        h.append(Line2D([], [], ls="", label="（圆点大小按容纳人数）"))
        h.append(Line2D([], [], color="#252525", lw=1.0, label="街道界线"))
        return h, title

    return draw(inputs, "图3  避难场所与无法就近安置的居民", paint)


def art18_map(inputs: ReportInputs) -> bytes:
    """Communities by the number of audit findings; those without a fixed office marked."""
    comm = inputs.audit_tables["communities"]
    issues = comm["issues"].fillna(0).to_numpy(dtype=float)
    classes = [((k + 0.5) if k is not None else 99, c, lab) for k, c, lab in ISSUE_CLASSES]
    colours, handles = _classes(issues, classes)

    def paint(ax, crs):
        g = comm.to_crs(crs)
        fill_polygons(ax, g.geometry.values, colours, edgecolor="white", linewidth=0.5)
        no_office = g[~g["has_fixed_office"].fillna(False).astype(bool).to_numpy()]
        pts = no_office.geometry.representative_point()
        ax.scatter(pts.x, pts.y, marker="x", s=28, c="black", linewidths=1.2, zorder=13)
        h = handles + [
            Line2D(
                [], [], marker="x", ls="", color="black", ms=6, mew=1.2, label=f"无固定办公场所（{len(no_office)} 个）"
            ),
            Line2D([], [], color="#252525", lw=1.0, label="街道界线"),
        ]
        return h, "社区体检问题数"

    return draw(inputs, "图4  社区服务用房与办公场所体检问题", paint)


MAP_BUILDERS: dict[str, Callable[[ReportInputs], bytes]] = {
    "art3": art3_map,
    "art12": art12_map,
    "art15": art15_map,
    "art18": art18_map,
}


def render_maps(inputs: ReportInputs, seconds: dict | None = None) -> dict[str, bytes]:
    """PNG bytes of every chapter's map (``seconds``: time per map, filled in when given)."""
    import time

    out = {}
    for key, build in MAP_BUILDERS.items():
        t = time.perf_counter()
        out[key] = build(inputs)
        if seconds is not None:
            seconds[f"{key}_map"] = time.perf_counter() - t
    return out


__all__ = ["MAP_BUILDERS", "render_maps"]
