"""Helpers shared by the modules of :mod:`geo_service.core.osm`.

The coordinate reference system of everything read from OSM, the progress
callback and the conversion of XML parse failures into :class:`InputError`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .._errors import InputError

#: CRS of every frame read from OSM (longitude, latitude in degrees).
CRS = "EPSG:4326"

#: Progress callback: ``progress(stage, fraction)`` with ``fraction`` in [0, 1].
Progress = Callable[[str, float], None]


def _reporter(progress: Progress | None) -> Progress:
    """A progress callback that forwards to ``progress`` or does nothing when it is None."""

    def report(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, fraction)

    return report


def _parse_error(path: Path, exc: Exception) -> InputError:
    """The :class:`InputError` for an OSM XML file that osmnx could not parse."""
    return InputError(
        f"cannot parse OSM XML {path.name!r}: {exc}",
        f"无法解析 OSM XML 文件 {path.name!r}：{exc}",
        path=str(path),
    )


def _parse_errors() -> tuple[type[Exception], ...]:
    """Exceptions that mean "this XML file cannot be parsed" (osmnx lets them through)."""
    from xml.etree.ElementTree import ParseError
    from xml.sax import SAXException

    return (ParseError, SAXException, OSError, EOFError, UnicodeDecodeError)
