"""JavaScript/CSS of the map pages, served locally from ``maps/static`` (never from a CDN).

:func:`localize` rewrites folium's default CDN URLs to ``/static/...`` (dropping the defaults the pages do not
use: jQuery, Bootstrap, Font Awesome, awesome-markers); an asset with no local copy raises
:class:`UnvendoredAsset` rather than reaching for the internet.  :func:`inline_assets` embeds every local
asset into the HTML for a single-file export.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
LEAFLET_JS = "vendor/leaflet-1.9.3/leaflet.js"
LEAFLET_CSS = "vendor/leaflet-1.9.3/leaflet.css"
VECTORGRID_JS = "vendor/leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js"
SWAGGER_UI_JS = "vendor/swagger-ui-dist-5.36.0/swagger-ui-bundle.js"  # the /docs page
SWAGGER_UI_CSS = "vendor/swagger-ui-dist-5.36.0/swagger-ui.css"
SWAGGER_UI_FAVICON = "vendor/swagger-ui-dist-5.36.0/favicon-32x32.png"
MAPS_JS = "maps/maps.js"
MAPS_CSS = "maps/maps.css"

# folium's CDN URLs -> local path under STATIC_DIR (None: not used by our pages, dropped)
FOLIUM_ASSETS: dict[str, str | None] = {
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": LEAFLET_JS,
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": LEAFLET_CSS,
    "https://unpkg.com/leaflet.vectorgrid@latest/dist/Leaflet.VectorGrid.bundled.js": VECTORGRID_JS,
    "https://code.jquery.com/jquery-3.7.1.min.js": None,
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": None,
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": None,
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": None,
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": None,
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": None,
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": None,
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css": None,
}


class UnvendoredAsset(RuntimeError):
    """A map element wants a JS/CSS file that is not served locally."""


def _walk(element):
    yield element
    for child in list(getattr(element, "_children", {}).values()):
        yield from _walk(child)


def localize(root, static_url: str = "/static") -> None:
    """Rewrite every folium asset URL under ``root`` (a Map or Figure) to ``static_url``; drop unused ones."""
    for el in _walk(root.get_root() if hasattr(root, "get_root") else root):
        for attr in ("default_js", "default_css"):
            assets = getattr(el, attr, None)
            if not assets:
                continue
            out = []
            for name, url in assets:
                if url.startswith(static_url + "/"):
                    out.append((name, url))
                    continue
                if url not in FOLIUM_ASSETS:
                    raise UnvendoredAsset(
                        f"{type(el).__name__} needs {url}: vendor it (maps/vendor.py) and map it in maps.assets"
                    )
                local = FOLIUM_ASSETS[url]
                if local is not None:
                    out.append((name, f"{static_url}/{local}"))
            setattr(el, attr, out)


_SCRIPT = re.compile(r'<script src="(?P<url>[^"]+)"></script>')
_LINK = re.compile(r'<link rel="stylesheet" href="(?P<url>[^"]+)"\s*/?>')
_CSS_URL = re.compile(r"url\((?P<q>['\"]?)(?P<path>[^)'\"]+)(?P=q)\)")


def _local_path(url: str, static_url: str) -> Path:
    if not url.startswith(static_url + "/"):
        raise UnvendoredAsset(f"not a local asset: {url}")
    path = (STATIC_DIR / url[len(static_url) + 1 :]).resolve()
    if STATIC_DIR not in path.parents or not path.is_file():
        raise UnvendoredAsset(f"no local file for {url}")
    return path


def inline_assets(html: str, static_url: str = "/static") -> str:
    """Embed the local scripts and stylesheets (with their images as data URIs) into ``html``."""

    def script(m):
        js = _local_path(m.group("url"), static_url).read_text(encoding="utf-8")
        return "<script>" + js.replace("</script", "<\\/script") + "</script>"

    def link(m):
        path = _local_path(m.group("url"), static_url)
        css = path.read_text(encoding="utf-8")

        def data_uri(u):
            ref = u.group("path")
            if ref.startswith(("data:", "#")):
                return u.group(0)
            img = (path.parent / ref).resolve()
            mime = mimetypes.guess_type(img.name)[0] or "application/octet-stream"
            return f"url(data:{mime};base64,{base64.b64encode(img.read_bytes()).decode()})"

        return "<style>" + _CSS_URL.sub(data_uri, css) + "</style>"

    return _LINK.sub(link, _SCRIPT.sub(script, html))


def external_references(html: str) -> list[str]:
    """``src``/``href`` of script, link and img tags that are not local (for checks)."""
    refs = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', html)
    return [r for r in refs if re.match(r"^(https?:)?//", r)]


def render_page(m, what: str, *, static_url: str = "/static", inline: bool = False) -> str:
    """A folium map as one HTML page with assets from ``static_url`` (served) or embedded (``inline``: one file
    that works offline); :class:`UnvendoredAsset` naming ``what`` if the page still references the internet."""
    localize(m, static_url)
    page = m.get_root().render()
    if inline:
        page = inline_assets(page, static_url)
    bad = external_references(page)
    if bad:
        raise UnvendoredAsset(f"{what} references external assets: {bad}")
    return page
