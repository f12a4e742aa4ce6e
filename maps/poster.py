"""The printable community shelter map (社区应急避难场所分布图): one A3 page, PDF, fully offline.

The community's map with the streets of the walking network (named roads of the ``roads`` layer labelled), the
compounds (population units) and the shelters they walk to, numbered, with their capacity; the walking route from
each compound to the shelter it is assigned to (capacity-respecting exact assignment, within the emergency
walking limit: :mod:`facilities.scenario` with no hazard and no closure); a Chinese legend, a scale bar in metres,
a north arrow, the data date and a QR code to the resident page at the community (``GEO_PUBLIC_URL``).

Drawn with matplotlib (no pyplot state: one ``Figure`` per call, safe in a server thread) in the network's
metric CRS (metres, grid north up), with the CJK font WenQuanYi Zen Hei embedded as TrueType (the PDF's text is
searchable and copyable).
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from facilities.scenario import ScenarioParams, assignment_routes, compute_scenario
from facilities.service import entrances_of, resolve_plan
from geo_service.core._errors import InputError, NotFoundError
from geo_service.core.network import load_network
from geo_service.core.settings import Settings, get_settings

FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
A3_INCHES = (297 / 25.4, 420 / 25.4)  # portrait
ROUTE, SHELTER, UNIT, BOUNDARY, STREET = "#1f5fbf", "#1a9850", "#fdd49e", "#d7301f", "#9e9e9e"
LACKING = "#c0392b"
MAX_LISTED = 14  # shelters listed in the table below the map
NO_SHELTER_ZH = "本图范围内暂无应急避难场所。\n紧急时请听从社区和街道的疏散安排，\n或扫码查看离您最近的避难场所。"


def _font():
    """The CJK font's properties (registered with matplotlib once); a clear error when it is missing."""
    from matplotlib import font_manager

    if not FONT_FILE.exists():
        raise InputError(
            f"the CJK font {FONT_FILE} is missing (Debian package fonts-wqy-zenhei)",
            f"缺少中文字体 {FONT_FILE}（请安装 fonts-wqy-zenhei）",
        )
    if not any(f.fname == str(FONT_FILE) for f in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(str(FONT_FILE))
    return font_manager.FontProperties(fname=str(FONT_FILE))


def find_community(communities: gpd.GeoDataFrame, community: str) -> pd.Series:
    """The community whose code or name is ``community``; :class:`NotFoundError` (Chinese) otherwise."""
    key = str(community).strip()
    hit = communities[(communities["code"].astype(str) == key) | (communities["name"].astype(str) == key)]
    if len(hit) == 0:
        sample = "、".join(f"{r.name}（{r.code}）" for r in communities.head(5).itertuples())
        raise NotFoundError(
            f"no community {key!r} in the plan",
            f"未找到社区「{key}」：请给出社区代码或名称" + (f"，例如 {sample}" if sample else "（当前方案没有社区）"),
            community=key,
        )
    return hit.iloc[0]


def resident_url(settings: Settings, lon: float, lat: float) -> str:
    """The resident page at a place (EPSG:4326): nearest shelter from there."""
    base = settings.public_url.rstrip("/")
    return f"{base}/resident?" + urlencode({"lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "category": "shelter"})


def _data_date(*frames) -> str:
    """The newest ``updated_at`` of the frames (YYYY-MM-DD), else today."""
    dates = []
    for f in frames:
        if f is not None and len(f) and "updated_at" in f.columns:
            d = pd.to_datetime(f["updated_at"], errors="coerce").max()
            if pd.notna(d):
                dates.append(d)
    return (max(dates) if dates else datetime.now(UTC)).strftime("%Y-%m-%d")


def poster_data(store, community: str, *, plan: int | str | None = None, settings: Settings | None = None) -> dict:
    """Everything the poster draws, read from the store (frames in the network's metric CRS, metres)."""
    settings = settings or get_settings()
    p = resolve_plan(store, plan)
    if p is None:
        raise InputError("no community plan: adopt one first", "没有社区划分方案：请指定方案，或先批准一个方案")
    communities = store.read_layer("communities", plan_id=p["id"])
    row = find_community(communities, community)
    net = load_network(store)
    units = store.read_layer("population_units")
    shelters = store.read_layer("shelters")
    entrances, _ = entrances_of(store, units) if len(units) else (None, 0)
    result = compute_scenario(
        units, shelters, None, net, store.norms, ScenarioParams(), entrances=entrances, communities=communities
    )
    mine = np.flatnonzero(result.units["community_code"].astype(str).to_numpy() == str(row["code"]))
    routes = assignment_routes(result, units=mine)
    unit_ids = set(result.units["unit_id"].to_numpy()[mine].tolist())
    routes = routes[routes["unit_id"].isin(unit_ids) & routes.geometry.notna()]
    # each compound's main shelter (most persons), for the labels
    used = set(routes["shelter_id"].tolist())
    sh = result.shelters
    inside = sh.geometry.intersects(row.geometry)
    sh = sh[(sh["shelter_id"].isin(used)) | (inside & sh["serving"])]
    to_m = lambda g: gpd.GeoSeries(np.asarray(g, dtype=object), crs=4326).to_crs(net.crs)  # noqa: E731
    centre = row.geometry.representative_point()
    return {
        "name": str(row["name"]),
        "code": str(row["code"]),
        "crs": net.crs,
        "boundary": to_m([row.geometry]).iloc[0],
        "units": gpd.GeoDataFrame(
            result.units.iloc[mine].drop(columns="geometry"),
            geometry=to_m(result.units.geometry.iloc[mine]).values,
            crs=net.crs,
        ),
        "shelters": gpd.GeoDataFrame(sh.drop(columns="geometry"), geometry=to_m(sh.geometry).values, crs=net.crs),
        "routes": gpd.GeoDataFrame(routes.drop(columns="geometry"), geometry=to_m(routes.geometry).values, crs=net.crs),
        "net": net,
        "roads": store.read_layer("roads"),
        "walk_limit_m": result.totals["walk_limit_m"],
        "url": resident_url(settings, centre.x, centre.y),
        "data_date": _data_date(units, shelters, communities),
        "synthetic": bool(store.get_metadata().get("synthetic")),
        "addresses": dict(
            zip(shelters["id"].tolist(), shelters.get("address", pd.Series([None] * len(shelters))).tolist())
        ),
    }


def _extent(d: dict) -> tuple[float, float, float, float]:
    geoms = [d["boundary"], *d["shelters"].geometry, *d["routes"].geometry]
    x0, y0, x1, y1 = shapely.GeometryCollection([g for g in geoms if g is not None]).bounds
    w, h = x1 - x0, y1 - y0
    pad = 0.06 * max(w, h, 200.0)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    return x0, y0, x1, y1


def _fit_aspect(ext, aspect: float) -> tuple[float, float, float, float]:
    """Grow the extent to the axes' width/height ratio ``aspect`` (equal scale in x and y)."""
    x0, y0, x1, y1 = ext
    w, h = x1 - x0, y1 - y0
    if w / h < aspect:
        grow = (h * aspect - w) / 2
        return x0 - grow, y0, x1 + grow, y1
    grow = (w / aspect - h) / 2
    return x0, y0 - grow, x1, y1 + grow


def _streets(ax, d: dict, ext) -> None:
    net = d["net"]
    box = shapely.box(*ext)
    edges = net.edges_frame()
    edges = edges[edges.intersects(box)]
    major = edges["road_class"].isin(["arterial", "primary", "secondary", "trunk"]).to_numpy()
    for sel, width in ((~major, 0.8), (major, 2.0)):
        for g in edges.geometry[sel]:
            x, y = g.xy
            ax.plot(x, y, color=STREET if width < 1 else "#7a7a7a", lw=width, zorder=1, solid_capstyle="round")


def _road_labels(ax, d: dict, ext, font) -> None:
    """One label per named road (its longest piece in view), along the road, at most 18."""
    roads = d["roads"]
    if roads is None or len(roads) == 0 or "name" not in roads.columns:
        return
    r = roads[roads["name"].notna()].to_crs(d["crs"])
    box = shapely.box(*ext).buffer(-0.04 * (ext[2] - ext[0]))
    r = r[r.intersects(box)]
    if len(r) == 0:
        return
    r = r.assign(geometry=r.intersection(box))
    r = r.assign(len_m=r.length).sort_values("len_m", ascending=False)
    placed = []
    for name, g in r.groupby("name", sort=False):
        merged = shapely.line_merge(shapely.union_all(g.geometry.values))
        parts = sorted(shapely.get_parts(merged), key=lambda p: -p.length)
        if not parts or parts[0].length < 0.12 * (ext[2] - ext[0]):
            continue
        line = parts[0]
        mid = line.interpolate(0.5, normalized=True)
        if any(mid.distance(q) < 0.08 * (ext[2] - ext[0]) for q in placed):
            continue
        a, b = line.interpolate(0.45, normalized=True), line.interpolate(0.55, normalized=True)
        angle = np.degrees(np.arctan2(b.y - a.y, b.x - a.x))
        angle = angle - 180 if angle > 90 else angle + 180 if angle < -90 else angle
        ax.text(
            mid.x,
            mid.y,
            name,
            fontproperties=font,
            fontsize=8,
            color="#444",
            rotation=angle,
            rotation_mode="anchor",
            ha="center",
            va="center",
            zorder=6,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
        )
        placed.append(mid)
        if len(placed) >= 18:
            break


def _scale_bar(ax, ext, font) -> None:
    """A scale bar in metres (nice length about a fifth of the map width), bottom left."""
    x0, y0, x1, y1 = ext
    w = x1 - x0
    nice = [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000]
    length = max([n for n in nice if n <= w / 5] or [nice[0]])
    bx, by, hh = x0 + 0.04 * w, y0 + 0.035 * (y1 - y0), 0.008 * (y1 - y0)
    from matplotlib.patches import Rectangle

    ax.add_patch(
        Rectangle(
            (bx - 0.01 * w, by - 2.6 * hh),
            length + 0.02 * w + 0.04 * w,
            6.2 * hh,
            fc="white",
            ec="none",
            alpha=0.85,
            zorder=8,
        )
    )
    for k in range(4):
        ax.fill_between(
            [bx + k * length / 4, bx + (k + 1) * length / 4],
            by,
            by + hh,
            color="black" if k % 2 == 0 else "white",
            ec="black",
            lw=0.8,
            zorder=9,
        )
    for frac in (0, 0.5, 1):
        ax.text(
            bx + frac * length,
            by + 1.6 * hh,
            f"{int(frac * length)}",
            fontproperties=font,
            fontsize=8,
            ha="center",
            va="bottom",
            zorder=9,
        )
    ax.text(bx + length + 0.012 * w, by + 0.5 * hh, "米", fontproperties=font, fontsize=9, va="center", zorder=9)


def _north_arrow(ax, ext, font) -> None:
    x0, y0, x1, y1 = ext
    w, h = x1 - x0, y1 - y0
    cx, top = x1 - 0.06 * w, y1 - 0.04 * h
    s = 0.045 * h
    from matplotlib.patches import Polygon

    ax.add_patch(Polygon([(cx, top), (cx - 0.35 * s, top - s), (cx, top - 0.72 * s)], fc="black", ec="black", zorder=9))
    ax.add_patch(Polygon([(cx, top), (cx + 0.35 * s, top - s), (cx, top - 0.72 * s)], fc="white", ec="black", zorder=9))
    ax.text(
        cx,
        top + 0.012 * h,
        "北",
        fontproperties=font,
        fontsize=13,
        ha="center",
        va="bottom",
        zorder=9,
        fontweight="bold",
    )


def _qr(fig, rect, url: str) -> None:
    import segno

    qr = segno.make(url, error="m")
    m = np.array([[0 if v else 1 for v in row] for row in qr.matrix], dtype=float)
    m = np.pad(m, 2, constant_values=1)
    ax = fig.add_axes(rect)
    ax.imshow(m, cmap="gray", interpolation="nearest", vmin=0, vmax=1)
    ax.set_axis_off()


def render_poster(
    store, community: str, *, plan: int | str | None = None, settings: Settings | None = None
) -> tuple[bytes, dict]:
    """The A3 poster of one community as PDF bytes, and what it shows (counts, the QR URL)."""
    d = poster_data(store, community, plan=plan, settings=settings)
    return draw_poster(d), {
        "community_name": d["name"],
        "community_code": d["code"],
        "shelters": len(d["shelters"]),
        "units": len(d["units"]),
        "routes": len(d["routes"]),
        "url": d["url"],
        "data_date": d["data_date"],
    }


def draw_poster(d: dict) -> bytes:
    """Draw the poster from :func:`poster_data`'s dictionary; PDF bytes."""
    import matplotlib
    from matplotlib.backends.backend_pdf import FigureCanvasPdf
    from matplotlib.figure import Figure

    font = _font()
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # the font has one weight, "medium"
    with matplotlib.rc_context({"pdf.fonttype": 42, "font.family": font.get_name(), "axes.unicode_minus": False}):
        fig = Figure(figsize=A3_INCHES)
        FigureCanvasPdf(fig)
        _title(fig, d, font)
        data = _extent(d)
        width_in = 0.90 * A3_INCHES[0]
        height = min(0.60, max(0.52, width_in * (data[3] - data[1]) / (data[2] - data[0]) / A3_INCHES[1]))
        map_rect = (0.05, 0.905 - height, 0.90, height)
        ax = fig.add_axes(map_rect)
        ext = _fit_aspect(data, width_in / (height * A3_INCHES[1]))
        numbers = _draw_map(ax, d, ext, font)
        _legend_and_table(fig, d, numbers, font, top=0.905 - height - 0.015)
        buf = io.BytesIO()
        fig.savefig(buf, format="pdf", metadata={"Title": f"{d['name']}应急避难场所分布图", "Creator": "geo-service"})
    return buf.getvalue()


def _title(fig, d: dict, font) -> None:
    fig.text(
        0.5,
        0.962,
        f"{d['name']}应急避难场所分布图",
        fontproperties=font,
        fontsize=30,
        ha="center",
        va="center",
        fontweight="bold",
    )
    fig.text(
        0.5,
        0.935,
        f"社区代码 {d['code']} · 发生地震等灾害时，请沿蓝色路线步行前往绿色编号的避难场所",
        fontproperties=font,
        fontsize=12,
        ha="center",
        va="center",
        color="#333",
    )
    if d["synthetic"]:
        fig.text(
            0.5,
            0.915,
            "（示例图：当前为合成示例数据，并非真实城市数据）",
            fontproperties=font,
            fontsize=11,
            ha="center",
            va="center",
            color="#b30000",
        )


def _draw_map(ax, d: dict, ext, font) -> dict:
    """Streets, community, compounds, routes and numbered shelters; returns shelter id -> number."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    x0, y0, x1, y1 = ext
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#f7f5f0")
    _streets(ax, d, ext)
    short = d["units"]["unplaced_before"].to_numpy() > 0
    for g, lacking in zip(d["units"].geometry, short):
        for part in shapely.get_parts(g):
            x, y = part.exterior.xy
            ax.fill(x, y, fc=UNIT, ec="#d08c30", lw=0.5, zorder=2)
            if lacking:  # residents without a shelter place within the walking limit
                ax.fill(x, y, fc="none", ec=LACKING, lw=0.0, hatch="////", zorder=2.2)
    # the community: outside dimmed, boundary bold dashed
    outside = shapely.box(*ext).difference(d["boundary"])
    for part in shapely.get_parts(outside):
        verts = [np.asarray(part.exterior.coords)] + [np.asarray(r.coords) for r in part.interiors]
        codes = []
        for v in verts:
            codes += [MPath.MOVETO] + [MPath.LINETO] * (len(v) - 2) + [MPath.CLOSEPOLY]
        ax.add_patch(PathPatch(MPath(np.concatenate(verts), codes), fc="white", ec="none", alpha=0.45, zorder=3))
    for part in shapely.get_parts(d["boundary"]):
        x, y = part.exterior.xy
        ax.plot(x, y, color=BOUNDARY, lw=2.6, ls=(0, (6, 3)), zorder=4)
    for g in d["routes"].geometry:
        x, y = g.xy
        ax.plot(x, y, color="white", lw=4.2, zorder=4.5, solid_capstyle="round")
        ax.plot(x, y, color=ROUTE, lw=2.4, zorder=5, solid_capstyle="round")
        ax.plot([x[0]], [y[0]], "o", ms=3.5, color=ROUTE, zorder=5)
    _road_labels(ax, d, ext, font)
    _unit_labels(ax, d, ext, font)
    sh = d["shelters"].sort_values(["load_before", "capacity_persons"], ascending=False)
    numbers = {}
    for k, r in enumerate(sh.itertuples(), start=1):
        numbers[r.shelter_id] = k
        p = r.geometry.representative_point()
        ax.plot([p.x], [p.y], marker="s", ms=19, color=SHELTER, mec="white", mew=1.8, zorder=10)
        ax.text(
            p.x,
            p.y,
            str(k),
            fontproperties=font,
            fontsize=11,
            color="white",
            ha="center",
            va="center",
            zorder=11,
            fontweight="bold",
        )
        if len(sh) <= 8:
            right = p.x > x0 + 0.62 * (x1 - x0)  # labels of shelters near the right edge go to their left
            ax.annotate(
                f"{r.name}\n容纳 {int(r.capacity_persons):,} 人",
                (p.x, p.y),
                xytext=(-14 if right else 14, -4),
                ha="right" if right else "left",
                va="center",
                annotation_clip=False,
                textcoords="offset points",
                fontproperties=font,
                fontsize=9,
                zorder=11,
                color="#0b5d1e",
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": SHELTER, "lw": 0.8, "alpha": 0.9},
            )
    _scale_bar(ax, ext, font)
    _north_arrow(ax, ext, font)
    for s in ax.spines.values():
        s.set_linewidth(1.2)
    return numbers


def _unit_labels(ax, d: dict, ext, font) -> None:
    """Compound names, smallest text, skipped where they would crowd (at most 40)."""
    w = ext[2] - ext[0]
    placed = []
    units = d["units"].assign(area=d["units"].area).sort_values("area", ascending=False)
    for r in units.itertuples():
        if not isinstance(r.name, str) or not r.name:
            continue
        p = r.geometry.representative_point()
        if any(abs(p.x - q.x) < 0.07 * w and abs(p.y - q.y) < 0.018 * w for q in placed):
            continue
        ax.text(p.x, p.y, r.name, fontproperties=font, fontsize=7, color="#7a4a00", ha="center", va="center", zorder=7)
        placed.append(p)
        if len(placed) >= 40:
            break


def _legend_and_table(fig, d: dict, numbers: dict, font, *, top: float) -> None:
    """Legend, shelter list and QR code in a band 0.205 high below ``top`` (figure fraction), then the footer."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    # legend
    lax = fig.add_axes((0.05, top - 0.205, 0.27, 0.205))
    lax.set_axis_off()
    handles = [
        Line2D([], [], marker="s", ms=13, color=SHELTER, mec="white", ls="none", label="应急避难场所（编号）"),
        Line2D([], [], color=ROUTE, lw=2.4, label=f"步行避难路线（{d['walk_limit_m']:.0f} 米内）"),
        Patch(fc=UNIT, ec="#d08c30", label="居住小区"),
        Line2D([], [], color=BOUNDARY, lw=2.4, ls=(0, (6, 3)), label="社区边界"),
        Line2D([], [], color="#7a7a7a", lw=2.0, label="主要道路"),
        Line2D([], [], color=STREET, lw=0.8, label="街巷"),
    ]
    if (d["units"]["unplaced_before"] > 0).any():
        label = f"有居民在 {d['walk_limit_m']:.0f} 米内无避难位置的小区"
        handles.insert(3, Patch(fc=UNIT, ec=LACKING, hatch="////", lw=0, label=label))
    lax.legend(
        handles=handles,
        loc="upper left",
        prop=_sized(font, 11),
        frameon=True,
        title="图　例",
        title_fontproperties=_sized(font, 13),
        borderpad=0.9,
        labelspacing=0.9,
    )
    # shelters table
    tax = fig.add_axes((0.34, top - 0.205, 0.42, 0.205))
    tax.set_axis_off()
    tax.text(0, 1, "避难场所一览", fontproperties=_sized(font, 13), va="top", fontweight="bold")
    sh = d["shelters"].assign(no=d["shelters"]["shelter_id"].map(numbers)).sort_values("no")
    y = 0.88
    for r in sh.head(MAX_LISTED).itertuples():
        addr = d["addresses"].get(r.shelter_id)
        line = f"{r.no}. {r.name}　容纳 {int(r.capacity_persons):,} 人"
        tax.text(0, y, line, fontproperties=_sized(font, 10), va="top")
        if isinstance(addr, str) and addr:
            tax.text(0.04, y - 0.045, _short(addr), fontproperties=_sized(font, 8), va="top", color="#555")
        y -= 0.088 if isinstance(addr, str) and addr else 0.06
    if len(sh) > MAX_LISTED:
        tax.text(0, y, f"另有 {len(sh) - MAX_LISTED} 处，见扫码页面", fontproperties=_sized(font, 9), va="top")
    if sh.empty:
        tax.text(0, y, NO_SHELTER_ZH, fontproperties=_sized(font, 10), va="top", color=LACKING, linespacing=1.5)
    # QR and dates
    qr_h = 0.15 * A3_INCHES[0] / A3_INCHES[1]
    _qr(fig, (0.80, top - qr_h, 0.15, qr_h), d["url"])
    fig.text(
        0.875,
        top - 0.008 - qr_h,
        "扫码查看离您最近的\n避难场所和步行路线",
        fontproperties=_sized(font, 10),
        ha="center",
        va="top",
        linespacing=1.4,
    )
    fig.text(
        0.05,
        top - 0.235,
        f"数据日期：{d['data_date']}　　制图日期：{datetime.now(UTC):%Y-%m-%d}　　"
        f"路线按各避难场所容量分配（步行 {d['walk_limit_m']:.0f} 米内）",
        fontproperties=_sized(font, 9),
        color="#333",
    )
    fig.text(
        0.05,
        top - 0.252,
        "紧急情况请拨打 119（消防）、120（急救）、110（报警）。本图由社区治理空间规划与设施服务系统生成。",
        fontproperties=_sized(font, 9),
        color="#333",
    )


def _sized(font, size: float):
    f = font.copy()
    f.set_size(size)
    return f


def _short(address: str, limit: int = 30) -> str:
    return address if len(address) <= limit else "…" + address[-(limit - 1) :]
