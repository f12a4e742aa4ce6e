"""Parameters of the annual report (社区设施体检报告): year, output format, template."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

from geo_service.core._errors import InputError

FORMATS = ("docx", "pdf")
DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "templates" / "社区设施体检报告.docx"
YEAR_MIN, YEAR_MAX = 2000, 2100


@dataclass(frozen=True)
class ReportParams:
    """What to build.

    Attributes
    ----------
    year : int
        The report's year (体检年度), shown on the title page and in the text.
    fmt : str
        ``docx`` (Word) or ``pdf`` (the Word document converted by LibreOffice).
    template : pathlib.Path
        The docxtpl template (default: the one shipped in ``maps/annual_report/templates``).
    """

    year: int
    fmt: str = "docx"
    template: Path = DEFAULT_TEMPLATE

    @classmethod
    def from_input(cls, year=None, fmt: str | None = "docx", template: str | Path | None = None) -> ReportParams:
        """Validate CLI options or HTTP query values; :class:`InputError` with a Chinese message otherwise."""
        if year is None or year == "":
            year = _dt.date.today().year
        try:
            y = int(str(year).strip())
        except ValueError:
            raise InputError(f"year must be a whole number, got {year!r}", f"年度应为整数，收到「{year}」") from None
        if not YEAR_MIN <= y <= YEAR_MAX:
            raise InputError(
                f"year must lie in {YEAR_MIN}-{YEAR_MAX}, got {y}", f"年度应在 {YEAR_MIN} 至 {YEAR_MAX} 之间，收到 {y}"
            )
        f = (fmt or "docx").strip().lower()
        if f not in FORMATS:
            raise InputError(f"unknown format {fmt!r}", f"未知的报告格式「{fmt}」：可用 docx、pdf")
        path = DEFAULT_TEMPLATE if template in (None, "") else Path(template)
        if not path.is_file():
            raise InputError(f"template not found: {path}", f"找不到报告模板文件：{path}")
        if path.suffix.lower() != ".docx":
            raise InputError(
                f"a template must be a .docx file, got {path.name}",
                f"报告模板应为 Word 文档（.docx），收到 {path.name}",
            )
        return cls(year=y, fmt=f, template=path)
