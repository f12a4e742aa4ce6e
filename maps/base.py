"""Building blocks of the folium maps: base map with the configured basemap, data layers, legend, title.

A :class:`DataLayer` puts a layer's features inline (GeoJSON drawn on canvas) up to
:data:`INLINE_MAX_FEATURES` and switches to vector tiles (``/tiles/...``, Leaflet.VectorGrid) above it, so a
large layer never freezes the browser (see docs/benchmarks.md, "Map APIs", for the measurement).
"""

from __future__ import annotations

import html
import json

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import CssLink, Element, JavascriptLink, MacroElement
from folium.map import Layer
from folium.template import Template

from geo_service.core.geojson import features_json
from geo_service.core.settings import Settings, get_settings

from . import assets

# Above this many features a layer is drawn from vector tiles instead of inline GeoJSON.  Measured in headless
# Chromium on the 2-core test machine (docs/benchmarks.md, "Map APIs"): inline canvas polygons load in 0.9 s / 1.6 s /
# 3.7 s / 6.6 s for 2k / 8k / 20k / 50k polygons and a zoom redraws in 0.2 / 0.5 / 0.8 / 1.5 s; tiles keep both flat.
INLINE_MAX_FEATURES = 5000
SIMPLIFY_DEG = 2e-6  # about 0.2 m: invisible up to zoom 19, drops collinear vertices of generated grids

TIANDITU = "https://t{s}.tianditu.gov.cn/%s_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=%s&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=%s"

PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
    "#6baed6",
    "#fd8d3c",
    "#74c476",
    "#9e9ac8",
    "#969696",
    "#c49c94",
    "#f7b6d2",
    "#dbdb8d",
]


def basemap_layers(settings: Settings) -> tuple[list[dict], str | None]:
    """Tile layers for ``GEO_BASEMAP`` and a note (Chinese) when the setting cannot be honoured."""
    kind = settings.basemap
    if kind == "osm":
        return [
            {
                "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "attr": "© OpenStreetMap contributors",
                "name": "OpenStreetMap 底图",
                "max_zoom": 19,
            }
        ], None
    if kind == "tianditu":
        if not settings.tianditu_key:
            return [], "未配置天地图密钥（TIANDITU_KEY），不显示底图"
        key = settings.tianditu_key
        return [
            {
                "tiles": TIANDITU % ("vec", "vec", key),
                "attr": "© 天地图",
                "name": "天地图矢量底图",
                "subdomains": "01234567",
                "max_zoom": 18,
            },
            {
                "tiles": TIANDITU % ("cva", "cva", key),
                "attr": "© 天地图",
                "name": "天地图注记",
                "subdomains": "01234567",
                "max_zoom": 18,
                "overlay": True,
                "control": False,
            },
        ], None
    if kind == "local":
        if not settings.basemap_url:
            return [], "未配置本地底图地址（GEO_BASEMAP_URL），不显示底图"
        return [{"tiles": settings.basemap_url, "attr": "本地底图", "name": "本地底图", "max_zoom": 20}], None
    return [], None


def new_map(
    bounds,
    *,
    settings: Settings | None = None,
    title_zh: str,
    subtitle_zh: str = "",
    synthetic_zh: str | None = None,
    tiles_needed: bool = False,
) -> folium.Map:
    """An empty map fitted to ``bounds`` (minx, miny, maxx, maxy in lon/lat) with the configured basemap."""
    settings = settings or get_settings()
    minx, miny, maxx, maxy = bounds
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=13,
        tiles=None,
        control_scale=False,  # maps.js adds a scale in metres only (Leaflet's default also shows miles)
        prefer_canvas=True,
        max_zoom=20,
    )
    if tiles_needed:
        # folium's VectorGrid plugin brings the (vendored) VectorGrid script
        m.default_js = list(m.default_js) + [
            ("vectorGrid", "https://unpkg.com/leaflet.vectorgrid@latest/dist/Leaflet.VectorGrid.bundled.js")
        ]
    fig = m.get_root()
    fig.header.add_child(CssLink(f"/static/{assets.MAPS_CSS}"), name="geo_maps_css")
    fig.header.add_child(JavascriptLink(f"/static/{assets.MAPS_JS}"), name="geo_maps_js")
    fig.title = title_zh
    fig.header.add_child(
        Element(f'<title>{html.escape(title_zh)}</title><link rel="icon" href="data:,">'), name="geo_title"
    )
    layers, note = basemap_layers(settings)
    for spec in layers:
        folium.TileLayer(**spec).add_to(m)
    if not layers:
        fig.header.add_child(Element("<style>html .leaflet-container{background:#f2efe9}</style>"), name="geo_nobase")
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    sub = html.escape(subtitle_zh) + (("<br>" + html.escape(note)) if note else "")
    banner = f'<div class="geo-synthetic">⚠ {html.escape(synthetic_zh)}</div>' if synthetic_zh else ""
    Control(f'<h3>{html.escape(title_zh)}</h3><div class="geo-sub">{sub}</div>{banner}', "topleft", "geo-title").add_to(
        m
    )
    Register().add_to(m)
    return m


class Register(MacroElement):
    """Expose the Leaflet map as ``window.geoMap`` (checks, custom controls)."""

    _template = Template(
        """{% macro script(this, kwargs) %}geoMaps.register({{ this._parent.get_name() }});{% endmacro %}"""
    )


class Control(MacroElement):
    """A fixed HTML box on the map (title, legend, selector)."""

    _template = Template(
        "{% macro script(this, kwargs) %}\n"
        "        var {{ this.get_name() }} = geoMaps.control({{ this._parent.get_name() }}, {{ this.html|tojson }}, "
        "{{ this.position|tojson }}, {{ this.css_class|tojson }});\n"
        "    {% endmacro %}"
    )

    def __init__(self, html_text: str, position: str = "bottomright", css_class: str = ""):
        super().__init__()
        self.html = html_text
        self.position = position
        self.css_class = css_class


class Script(MacroElement):
    """Raw JavaScript run after the layers exist (``{map}`` is replaced by the map's variable name)."""

    _template = Template("""{% macro script(this, kwargs) %}{{ this.code|safe }}{% endmacro %}""")

    def __init__(self, code: str):
        super().__init__()
        self.raw = code

    def render(self, **kwargs):
        self.code = self.raw.replace("{map}", self._parent.get_name())
        super().render(**kwargs)


def legend(title_zh: str, rows: list[tuple[str, str, str]]) -> Control:
    """Legend box; rows are (kind: fill|dot|line, colour, label_zh)."""
    items = "".join(
        f'<div class="row"><span class="sw {kind}" '
        f'style="{"border-color" if kind == "line" else "background"}:{color}"></span>'
        f"{html.escape(label)}</div>"
        for kind, color, label in rows
    )
    return Control(
        f'<div class="geo-legend"><h4>{html.escape(title_zh)}</h4>{items}</div>', "bottomright", "geo-legend"
    )


# the summary box of a scenario map (hazard scenarios in maps.hazards, what-if comparisons in maps.scenarios)
SUMMARY_CSS = (
    "<style>.geo-scenario{max-width:420px}.geo-scenario h4{margin:0 0 4px}"
    ".geo-summary{border-collapse:collapse;font-size:12px;line-height:1.4}"
    ".geo-summary th{text-align:left;color:#555;font-weight:normal;padding:1px 10px 1px 0;"
    "white-space:nowrap;vertical-align:top}</style>"
)


def summary_table(rows: list[tuple[str, object]]) -> str:
    """(label_zh, value) rows as a small HTML table, escaped."""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f'<table class="geo-summary">{body}</table>'


def add_summary_box(m: folium.Map, heading_zh: str, table_html: str) -> None:
    """Put a summary box (top right) and the layer control on a scenario map."""
    Control(f"<h4>{html.escape(heading_zh)}</h4>{table_html}", "topright", "geo-scenario").add_to(m)
    m.get_root().header.add_child(folium.Element(SUMMARY_CSS), name="geo_summary_css")
    folium.LayerControl(collapsed=True).add_to(m)


def swatch(color: str, label: str, dot: bool = True) -> str:
    """HTML label for the layer control with a colour swatch."""
    radius = "50%" if dot else "2px"
    return (
        f'<span style="display:inline-block;width:10px;height:10px;border-radius:{radius};background:{color};'
        f'border:1px solid #555"></span> {html.escape(label)}'
    )


def geojson_text(gdf: gpd.GeoDataFrame, columns: list[str], *, simplify: float = SIMPLIFY_DEG) -> str:
    """A compact FeatureCollection (6 decimals, lightly simplified polygons) of ``columns`` for inline layers."""
    keep = [c for c in columns if c in gdf.columns]
    frame = gdf[keep + [gdf.geometry.name]].copy()
    geoms = np.asarray(frame.geometry.values, dtype=object)
    poly = np.isin(shapely.get_type_id(geoms), [3, 6])
    if simplify and poly.any():
        geoms = geoms.copy()
        geoms[poly] = shapely.simplify(geoms[poly], simplify, preserve_topology=True)
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=gdf.crs))
    if "id" not in frame.columns:
        frame["id"] = np.arange(len(frame))
    feats = features_json(frame, precision=6)
    return ('{"type":"FeatureCollection","features":[' + b",".join(feats).decode() + "]}").replace("</", "<\\/")


class DataLayer(Layer):
    """Features of a collection, inline or as vector tiles, with a JS style/filter and Chinese popup fields.

    Parameters
    ----------
    gdf : GeoDataFrame or None
        Features to draw inline; ``None`` with ``tiles`` set draws from vector tiles.
    collection : str
        OGC collection id (the vector-tile layer name).
    fields : list of (name, label_zh, unit, vocab)
        Popup rows.
    style_js, filter_js : str
        JavaScript functions of the feature properties.
    """

    _template = Template("""{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = geoMaps.dataLayer({{ this.map_name }}, {
            data: {{ this.data|safe }},
            tiles: {{ this.tiles|tojson }},
            layerName: {{ this.collection|tojson }},
            style: {{ this.style_js|safe }},
            filter: {{ this.filter_js|safe }},
            fields: {{ this.fields|tojson }},
            point: {{ this.point|tojson }},
            titleField: {{ this.title_field|tojson }},
            tooltipField: {{ this.tooltip_field|tojson }}
        });
    {% endmacro %}""")

    def __init__(
        self,
        name: str,
        collection: str,
        *,
        gdf: gpd.GeoDataFrame | None = None,
        tiles: str | None = None,
        columns: list[str] | None = None,
        fields: list | None = None,
        style_js: str = "function(p){return {};}",
        filter_js: str = "null",
        point: dict | None = None,
        title_field: str | None = "name",
        tooltip_field: str | None = None,
        show: bool = True,
    ):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "DataLayer"
        self.collection = collection
        self.fields = [list(f) for f in (fields or [])]
        cols = list(
            dict.fromkeys(
                (columns or []) + [f[0] for f in self.fields] + [c for c in (title_field, tooltip_field) if c]
            )
        )
        self.data = geojson_text(gdf, cols) if gdf is not None and tiles is None else "null"
        self.tiles = tiles
        self.style_js = style_js
        self.filter_js = filter_js
        self.point = point or {"radius": 5}
        self.title_field = title_field
        self.tooltip_field = tooltip_field
        self.mode = "tiles" if tiles else "inline"

    def render(self, **kwargs):
        parent = self._parent
        while parent is not None and not isinstance(parent, folium.Map):
            parent = getattr(parent, "_parent", None)
        self.map_name = parent.get_name()
        super().render(**kwargs)


def use_tiles(n_features: int) -> bool:
    return n_features > INLINE_MAX_FEATURES


def tile_url(collection: str, tiles_base: str = "", query: str = "") -> str:
    return f"{tiles_base}/tiles/{collection}/{{z}}/{{x}}/{{y}}.mvt" + (f"?{query}" if query else "")


def field_specs(layer: str, names: list[str], vocab_override: dict | None = None) -> list[list]:
    """Popup rows (name, label_zh, unit, vocab) from the layer declaration."""
    from geo_service.core.layers import LAYERS

    spec = LAYERS[layer]
    out = []
    for n in names:
        try:
            f = spec.field(n)
            out.append([n, f.label_zh, f.unit, (vocab_override or {}).get(n, f.vocab)])
        except KeyError:
            out.append([n, {"source_id": "编号", "id": "要素编号"}.get(n, n), None, (vocab_override or {}).get(n)])
    return out


def js(value) -> str:
    """A Python value as a JavaScript literal."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def bounds_of(*frames: gpd.GeoDataFrame, default=(73.5, 18.0, 135.0, 53.6)) -> tuple[float, float, float, float]:
    boxes = [f.total_bounds for f in frames if f is not None and len(f) and np.isfinite(f.total_bounds).all()]
    if not boxes:
        return default
    b = np.array(boxes)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def synthetic_note(store) -> str | None:
    meta = store.get_metadata()
    if not meta.get("synthetic"):
        return None
    name = (meta.get("dataset") or {}).get("name_zh", "示例城市")
    return f"当前数据为合成示例数据（{name}），并非真实城市数据。"
