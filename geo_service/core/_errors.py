"""Exceptions of the service.

Every error meant for staff carries a Chinese message (``message_zh``) and an
English one; the API answers with both, the CLI prints the Chinese one.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class GeoServiceError(Exception):
    """Base class; ``http_status`` is the status the API answers with."""

    http_status = 400

    def __init__(self, message: str, message_zh: str | None = None, **detail):
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or message
        self.detail = detail

    def to_dict(self) -> dict:
        out = {"error": type(self).__name__, "message": self.message, "message_zh": self.message_zh}
        out.update(self.detail)
        return out


class UnknownLayerError(GeoServiceError):
    http_status = 404

    def __init__(self, name: str, known: list[str]):
        super().__init__(
            f"unknown layer {name!r}; known layers: {', '.join(known)}",
            f"未知图层 {name!r}；可用图层：{', '.join(known)}",
            layer=name,
            known_layers=known,
        )


class NotFoundError(GeoServiceError):
    http_status = 404


class ConflictError(GeoServiceError):
    """The database refused a write (a constraint); nothing of that write was kept."""

    http_status = 409


class CRSError(GeoServiceError):
    """Unknown or unusable coordinate reference system."""

    http_status = 422


class InputError(GeoServiceError):
    """A file or request that cannot be read at all (format, encoding, size)."""

    http_status = 422


class NotComputedError(GeoServiceError):
    """No stored result for these parameters, and the caller may not start a computation (HTTP 401)."""

    http_status = 401


class SpatialiteUnavailable(GeoServiceError):
    """This Python cannot load the SpatiaLite extension."""

    http_status = 500


class DatabaseUnavailable(GeoServiceError):
    http_status = 503


MAX_REPORTED_PROBLEMS = 1000


@dataclass
class RowProblem:
    """One problem found in one input row (``row`` counts from 1, like a spreadsheet)."""

    row: int
    column: str | None
    problem: str
    problem_zh: str
    source_id: str | None = None
    value: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ValidationReport:
    """All problems of one import, by row; empty when the input is clean."""

    layer: str
    rows: int
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def bad_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems if p.row > 0})

    def add(self, row, column, problem, problem_zh, source_id=None, value=None):
        if value is not None:
            value = str(value)[:200]
        self.problems.append(RowProblem(int(row), column, problem, problem_zh, source_id, value))

    def to_dict(self, limit: int = MAX_REPORTED_PROBLEMS) -> dict:
        """The report for an API answer; at most ``limit`` problems are listed, ``problems_total`` counts all."""
        return {
            "layer": self.layer,
            "rows": self.rows,
            "bad_rows": len(self.bad_rows),
            "problems_total": len(self.problems),
            "problems": [p.to_dict() for p in self.problems[:limit]],
        }

    def format_zh(self, limit: int = 50) -> str:
        lines = [f"图层 {self.layer}：共 {self.rows} 行，{len(self.bad_rows)} 行有问题"]
        for p in self.problems[:limit]:
            where = f"第 {p.row} 行" if p.row > 0 else "文件"
            col = f"［{p.column}］" if p.column else ""
            val = f"（值：{p.value}）" if p.value is not None else ""
            lines.append(f"  {where}{col}：{p.problem_zh}{val}")
        if len(self.problems) > limit:
            lines.append(f"  …… 另有 {len(self.problems) - limit} 个问题")
        return "\n".join(lines)


class ImportValidationError(GeoServiceError):
    """The input has invalid rows; nothing was written."""

    http_status = 422

    def __init__(self, report: ValidationReport):
        super().__init__(
            f"{len(report.bad_rows)} of {report.rows} rows of layer {report.layer} are invalid; nothing was written",
            f"图层 {report.layer} 的 {report.rows} 行中有 {len(report.bad_rows)} 行无效，未写入任何数据",
        )
        self.report = report

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["report"] = self.report.to_dict()
        return out
