"""Parameters of building population units, built by one constructor from CLI options, HTTP bodies or job params.

Official totals come as tables (CSV/XLSX files, or JSON rows in a job) keyed by code or by name, with residents
and optionally households, at one or more statistical levels. Chinese headers (代码/行政区划代码, 名称, 常住人口,
户数, 层级) are recognised. Defaults that are norms come from ``norms.population`` (``storey_height_m``,
``persons_per_household``, ``mixed_use_residential_share``, ``default_floors``) when the norms have them, else from
:data:`FALLBACK_NORMS` (the same values).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from geo_service.core._errors import InputError
from geo_service.core.importer import LEVEL_WORDS

__all__ = [
    "LEVELS",
    "LEVEL_ZH",
    "FALLBACK_NORMS",
    "MAX_TOTALS_ROWS",
    "TOTALS_FIELDS",
    "TotalRow",
    "UnitsParams",
    "read_totals_table",
    "totals_rows",
]

# Statistical levels, top (0) to bottom; ``county`` is an alias of ``district``.
LEVELS: dict[str, int] = {"district": 0, "street": 1, "community": 2, "grid": 3}
LEVEL_ZH: dict[str, str] = {"district": "区县", "street": "街道（乡镇）", "community": "社区（村）", "grid": "网格"}
# Words for a level (区县, 乡镇, 居委会, 网格...): the importer's list, with its ``county`` read as ``district``.
LEVEL_ALIASES: dict[str, str] = {
    word: ("district" if level == "county" else level) for word, level in LEVEL_WORDS.items()
} | {"county": "district"}

FALLBACK_NORMS: dict[str, Any] = {
    "storey_height_m": 3.0,
    "persons_per_household": 2.39,  # 德阳市七普公报：家庭户平均 2.39 人
    "mixed_use_residential_share": 0.5,
    "default_floors": {"residential": 6, "mixed": 4, "other": 2},
}

# A level's own code or name column (网格编码, 社区名称…), lowest level first: in a table with both a community's
# and its street's code, the community's is the row's own (the street's is its parent).
_LEVEL_PREFIXES = ("网格", "社区", "村", "居委会", "街道", "乡镇", "镇", "乡", "区县", "县", "区")
CODE_HEADERS = ("code", "adcode", "代码", "行政区划代码", "区划代码", "统计用区划代码", "编码", "编号") + tuple(
    f"{w}{s}" for w in _LEVEL_PREFIXES for s in ("代码", "编码", "编号", "区划代码")
)
NAME_HEADERS = ("name", "名称", "区划名称", "地区", "单位", "单位名称", "地名") + tuple(
    f"{w}{s}" for w in _LEVEL_PREFIXES for s in ("名称", "名")
)
RESIDENTS_HEADERS = ("residents", "population", "常住人口", "常住人口数", "人口", "人口数", "总人口")
HOUSEHOLDS_HEADERS = ("households", "户数", "总户数", "家庭户数", "家庭户")
LEVEL_HEADERS = ("level", "层级", "级别", "统计层级")
MAX_TOTAL = 100_000_000
MAX_TOTALS_ROWS = 100_000  # a county has a few thousand communities and grid cells; a province ~ 60,000 villages
# The fields of a totals table (the keys of ``--map`` / HTTP ``map``) and the headers each is known by.
TOTALS_FIELDS: dict[str, str] = {
    "code": "代码",
    "name": "名称",
    "residents": "常住人口",
    "households": "户数",
    "level": "层级",
}
TOTALS_HEADERS: dict[str, tuple[tuple[str, ...], bool]] = {  # field -> (headers, match a header's prefix too)
    "code": (CODE_HEADERS, False),
    "name": (NAME_HEADERS, False),
    "residents": (RESIDENTS_HEADERS, True),
    "households": (HOUSEHOLDS_HEADERS, True),
    "level": (LEVEL_HEADERS, False),
}


@dataclass(frozen=True)
class TotalRow:
    """One official total: residents (and households) of one statistical area, persons and households."""

    level: str
    code: str | None
    name: str | None
    residents: int
    households: int | None = None
    source: str = ""

    @property
    def label(self) -> str:
        return self.name or self.code or "?"


def _level(value: Any) -> str:
    text = str(value).strip()
    low = text.lower()
    lvl = LEVEL_ALIASES.get(text, LEVEL_ALIASES.get(low, low))
    if lvl not in LEVELS:
        raise InputError(
            f"unknown level {text!r}; use one of {', '.join(LEVELS)}",
            f"未知的统计层级 {text!r}，应为 {'、'.join(f'{k}（{v}）' for k, v in LEVEL_ZH.items())} 之一",
        )
    return lvl


def _column(columns: Sequence[str], candidates: Sequence[str], prefix: bool = False) -> str | None:
    norm = {re.sub(r"\s+", "", str(c)).lower(): c for c in columns}
    for cand in candidates:
        if cand in norm:
            return norm[cand]
    if prefix:  # e.g. residents_2020, 常住人口（人）
        for cand in candidates:
            for key, col in norm.items():
                if key.startswith(cand):
                    return col
    return None


def _count(value: Any) -> int | None:
    """A non-negative integer count from a cell ('1,234', 1234.0, '1234'); None when empty; ValueError if bad."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip().replace(",", "").replace("，", "")
    if text == "" or text.lower() in ("nan", "none"):
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(text) from None
    if not math.isfinite(number) or number < 0 or number != int(number) or number > MAX_TOTAL:
        raise ValueError(text)
    return int(number)


def _columns_of(
    cols: list[str], column_map: Mapping[str, str] | None, source: str, used: set[str] | None = None
) -> dict[str, str | None]:
    """The column of each totals field: ``column_map`` (``{field: column}``, as ``--map``) first, else the headers
    the field is known by (:data:`TOTALS_HEADERS`).

    ``used``: a set collecting the mapped columns this table has; given, a mapped column the table lacks is skipped
    (one of several files), else it is an error."""
    column_map = dict(column_map or {})
    unknown = sorted(set(column_map) - set(TOTALS_FIELDS))
    if unknown:
        raise InputError(
            f"{source}: unknown field(s) {unknown} in the column map; fields: {', '.join(TOTALS_FIELDS)}",
            f"{source}：列对应（--map 字段=列名）中有未知字段 {'、'.join(unknown)}；可用字段："
            + "、".join(f"{k}（{v}）" for k, v in TOTALS_FIELDS.items()),
        )
    missing = [c for c in column_map.values() if c not in cols]
    if used is not None:
        used.update(c for c in column_map.values() if c in cols)
        column_map = {k: v for k, v in column_map.items() if v in cols}
    elif missing:
        raise InputError(
            f"{source}: no column {missing} (--map); columns: {cols}",
            f"{source}：文件中没有列对应（--map）所指的列 {'、'.join(missing)}；现有列 {'、'.join(cols)}",
        )
    free = [c for c in cols if c not in column_map.values()]
    out: dict[str, str | None] = {}
    for key, (headers, prefix) in TOTALS_HEADERS.items():
        out[key] = column_map.get(key) or _column(free, headers, prefix=prefix)
    return out


def _problem(row: int, column: str | None, value: Any, en: str, zh: str) -> dict:
    """One bad cell, as the importer reports it (:class:`geo_service.core._errors.RowProblem`)."""
    out = {"row": row, "column": column, "problem": en, "problem_zh": zh}
    if value is not None and not (isinstance(value, float) and math.isnan(value)):
        out["value"] = str(value)[:200]
    return out


def _refuse(source: str, rows: int, problems: list[dict], en: str, zh: str) -> InputError:
    """An :class:`InputError` carrying the per-row report (``report``: as an import's, HTTP 422)."""
    where = "；".join(
        f"第 {p['row']} 行" + (f"「{p['column']}」列" if p.get("column") else "") + f"：{p['problem_zh']}"
        for p in problems[:20]
    )
    more = f"（共 {len(problems)} 处，只列出前 20 处）" if len(problems) > 20 else ""
    report = {
        "layer": "totals",
        "rows": rows,
        "bad_rows": len({p["row"] for p in problems}),
        "problems_total": len(problems),
        "problems": problems[:1000],
    }
    return InputError(f"{source}: {en}", f"{source}：{zh}，未写入任何数据：{where}{more}", report=report)


def totals_rows(
    frame: pd.DataFrame,
    level: str | None,
    source: str,
    *,
    column_map: Mapping[str, str] | None = None,
    first_row: int = 2,
    used_columns: set[str] | None = None,
) -> list[TotalRow]:
    """The totals of a table: one :class:`TotalRow` per row.

    Parameters
    ----------
    frame : DataFrame
        Columns for the code and/or the name, residents (persons), optionally households and a level column.
    level : str, optional
        The level of every row when the table has no level column (or the row's level cell is empty).
    source : str
        The file name (or ``"job"``), for messages.
    column_map : dict, optional
        ``{field: column}`` for columns under other headers; fields ``code``, ``name``, ``residents``,
        ``households``, ``level``.
    first_row : int
        The number of the first data row in messages: 2 in a file (the header is row 1), 1 for JSON rows.
    used_columns : set, optional
        Given when the map is shared by several tables: collects the mapped columns this one has (a mapped column
        it lacks is then no error here; the caller checks that some table had it).

    Raises
    ------
    InputError
        Missing columns, no level, more than :data:`MAX_TOTALS_ROWS` rows, or bad cells: every bad cell is named by
        row (as the spreadsheet shows it) and column, and listed in the error's ``report``.
    """
    cols = [str(c) for c in frame.columns]
    frame = frame.set_axis(cols, axis=1)
    col = _columns_of(cols, column_map, source, used_columns)
    code_col, name_col, res_col, hh_col, lvl_col = (col[k] for k in TOTALS_FIELDS)
    if res_col is None or (code_col is None and name_col is None):
        raise InputError(
            f"{source}: totals need a code or name column and a residents column; found {cols}",
            f"{source}：统计数表须有代码（代码/行政区划代码）或名称列，以及常住人口列；现有列 {cols}"
            "（其他表头可用 --map 字段=列名 指定，如 --map residents=人口合计）",
        )
    if lvl_col is None and level is None:
        raise InputError(
            f"{source}: give the level of the totals (--level) or a level column",
            f"{source}：请用 --level 指明统计层级（street、community、district、grid），或在表中给出“层级”列",
        )
    if len(frame) > MAX_TOTALS_ROWS:
        raise InputError(
            f"{source}: {len(frame):,} rows exceed the limit of {MAX_TOTALS_ROWS:,} totals",
            f"{source}：统计数 {len(frame):,} 行，超过上限 {MAX_TOTALS_ROWS:,} 行，未写入任何数据；请检查文件",
        )
    rows, bad = [], []
    for i, rec in enumerate(frame.to_dict("records"), start=first_row):
        code = _text(rec.get(code_col)) if code_col else None
        name = _text(rec.get(name_col)) if name_col else None
        if code is None and name is None and _text(rec.get(res_col)) is None:
            continue  # blank line
        counts: dict[str, int | None] = {}
        for key, column, zh in (("residents", res_col, "常住人口"), ("households", hh_col, "户数")):
            if column is None:
                counts[key] = None
                continue
            try:
                counts[key] = _count(rec.get(column))
            except ValueError as exc:
                bad.append(
                    _problem(
                        i, column, rec.get(column), f"{key} {exc.args[0]!r} is not a non-negative whole number",
                        f"{zh} {exc.args[0]!r} 不是非负整数",
                    )
                )  # fmt: skip
                counts[key] = -1
        if counts["residents"] is None:
            bad.append(_problem(i, res_col, None, "residents missing", "缺少常住人口"))
            continue
        if code is None and name is None:
            bad.append(_problem(i, code_col or name_col, None, "no code and no name", "缺少代码和名称，无法对应区域"))
            continue
        raw_level = rec.get(lvl_col) if lvl_col and _text(rec.get(lvl_col)) else level
        try:
            lvl = _level(raw_level)
        except InputError as exc:
            bad.append(_problem(i, lvl_col, raw_level, exc.message, exc.message_zh))
            continue
        if counts["residents"] < 0 or (counts["households"] or 0) < 0:
            continue  # reported above
        rows.append(TotalRow(lvl, code, name, int(counts["residents"]), counts["households"], source))
    if bad:
        raise _refuse(source, len(frame), bad, f"{len(bad)} bad cell(s) in the totals", "统计数有误")
    if not rows:
        raise InputError(f"{source}: no totals", f"{source}：统计数表中没有数据行")
    return rows


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():  # a code a spreadsheet read as a number
        text = text[:-2]
    return text or None


def read_totals_table(
    path: str | Path,
    level: str | None,
    *,
    column_map: Mapping[str, str] | None = None,
    source: str | None = None,
    used_columns: set[str] | None = None,
) -> list[TotalRow]:
    """Read a CSV (UTF-8 or GB18030) or XLSX file of totals; see :func:`totals_rows`.

    ``source``: the name the messages give the file (an upload's own name), default the file's name.
    """
    path = Path(path)
    name = source or path.name
    if not path.exists():
        raise InputError(f"file not found: {path}", f"找不到统计数文件：{path}")
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".csv", ".txt"):
        raise InputError(f"totals must be .csv or .xlsx, got {name}", f"统计数文件应为 .csv 或 .xlsx，收到 {name}")
    if path.stat().st_size == 0:
        raise InputError(f"{name} is empty", f"统计数文件 {name} 是空文件")
    try:
        if suffix in (".xlsx", ".xlsm"):
            from geo_service.core.io import check_zip

            try:
                check_zip(path, nested_ok=True)
            except InputError as exc:  # said of the file by its own name (an upload is kept under another)
                err = InputError(
                    exc.message.replace(path.name, name), exc.message_zh.replace(path.name, name), **exc.detail
                )
                err.http_status = exc.http_status
                raise err from exc
            frame = pd.read_excel(path, engine="openpyxl", dtype=object)
        else:
            frame = None
            for enc in ("utf-8-sig", "gb18030"):
                try:
                    frame = pd.read_csv(path, encoding=enc, dtype=object)
                    break
                except UnicodeDecodeError:
                    continue
            if frame is None:
                raise InputError(f"cannot decode {name}", f"无法识别 {name} 的文字编码（应为 UTF-8 或 GBK）")
    except InputError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{name} has no table", f"统计数文件 {name} 中没有表格（空文件或只有空行）") from exc
    except Exception as exc:  # pandas/openpyxl: the file cannot be read at all
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read {name}: {msg}", f"无法读取统计数文件 {name}：{msg}") from exc
    return totals_rows(frame, level, name, column_map=column_map, used_columns=used_columns)


def _norms_population(norms) -> dict[str, Any]:
    """``norms.population`` as a dict when the norms have it, else :data:`FALLBACK_NORMS`."""
    pop = getattr(norms, "population", None) if norms is not None else None
    out = dict(FALLBACK_NORMS)
    for key in out:
        value = pop.get(key) if isinstance(pop, Mapping) else getattr(pop, key, None)
        if value is not None:
            out[key] = dict(value) if key == "default_floors" else float(value)
    return out


@dataclass(frozen=True)
class UnitsParams:
    """What a population-units build uses.

    Attributes
    ----------
    totals : the official totals, all levels (persons, households)
    sources : names of the totals files (or ``"job"``)
    raster : path of a population raster (GeoTIFF, any CRS) used as weights instead of floor area, or None
    storey_height_m : metres per storey, to get floors from a height
    persons_per_household : persons per household where households are not given
    mixed_use_residential_share : share of a mixed-use building's floor area that is residential (0..1)
    default_floors : floors per use (``residential``, ``mixed``, ``other``) where neither floors nor height is known
    dry_run : compute and report, write nothing
    """

    totals: tuple[TotalRow, ...]
    sources: tuple[str, ...]
    raster: str | None = None
    storey_height_m: float = 3.0
    persons_per_household: float = 2.39
    mixed_use_residential_share: float = 0.5
    default_floors: tuple[tuple[str, int], ...] = (("residential", 6), ("mixed", 4), ("other", 2))
    dry_run: bool = False

    @classmethod
    def from_input(
        cls,
        norms=None,
        *,
        totals: Sequence[str | Path] | None = None,
        totals_names: Sequence[str] | None = None,
        levels: Sequence[str] | None = None,
        rows: Sequence[Mapping[str, Any]] | None = None,
        rows_source: str = "job",
        column_map: Mapping[str, str] | Sequence[str] | str | None = None,
        raster: str | Path | None = None,
        storey_height_m: float | None = None,
        persons_per_household: float | None = None,
        mixed_use_residential_share: float | None = None,
        dry_run: bool = False,
    ) -> UnitsParams:
        """Validate CLI/HTTP/job input.

        ``totals`` are files (named ``totals_names`` in messages and the run: an upload's own names), ``levels``
        their levels (one for all, one per file, or none when the tables have a
        level column); ``rows`` are totals as JSON records (a job's params) with a ``level`` each or ``levels[0]``,
        named ``rows_source`` in messages and the run (the uploaded file's name); ``column_map`` is ``{field:
        column}`` or ``FIELD=COLUMN`` pairs (``--map``) for the files' and rows' columns.
        """
        from geo_service.core.importer import parse_column_map

        levels = [_level(v) for v in (levels or [])]
        cmap = dict(column_map) if isinstance(column_map, Mapping) else parse_column_map(column_map)
        files = [Path(p) for p in (totals or [])]
        if levels and files and len(levels) not in (1, len(files)):
            raise InputError(
                "give one --level, or one per --totals file",
                f"--level 的个数（{len(levels)}）应为 1 个，或与 --totals 文件个数（{len(files)}）相同",
            )
        out: list[TotalRow] = []
        used: set[str] | None = set() if len(files) > 1 else None  # one map for several files: each takes its own
        for i, path in enumerate(files):
            lvl = levels[i if len(levels) == len(files) else 0] if levels else None
            name = totals_names[i] if totals_names and i < len(totals_names) else None
            out.extend(read_totals_table(path, lvl, column_map=cmap, source=name, used_columns=used))
        unused = [c for c in cmap.values() if used is not None and c not in used]
        if unused:
            raise InputError(
                f"no totals file has the column(s) {unused} (--map)",
                f"所有统计数文件中都没有列对应（--map）所指的列 {'、'.join(unused)}",
            )
        if rows:
            frame = pd.DataFrame(list(rows))
            out.extend(totals_rows(frame, levels[0] if levels else None, rows_source, column_map=cmap, first_row=1))
        if not out:
            raise InputError("no totals given", "请提供统计数（--totals 文件，或任务参数中的统计数行）")
        _check_duplicates(out)
        out = list(dict.fromkeys(out))  # the same row given twice counts once
        base = _norms_population(norms)
        sh = _positive(storey_height_m, base["storey_height_m"], "storey_height_m", "层高", 1.5, 10)
        pph = _positive(
            persons_per_household, base["persons_per_household"], "persons_per_household", "户均人口", 1, 10
        )
        share = _positive(
            mixed_use_residential_share, base["mixed_use_residential_share"], "mixed_use_residential_share",
            "商住混合建筑的住宅比例", 0, 1,
        )  # fmt: skip
        if raster is not None and not Path(raster).exists():
            raise InputError(f"raster not found: {raster}", f"找不到人口栅格文件：{raster}")
        floors = tuple(sorted((str(k), int(v)) for k, v in base["default_floors"].items()))
        sources = tuple(dict.fromkeys(r.source for r in out))
        return cls(tuple(out), sources, str(raster) if raster else None, sh, pph, share, floors, bool(dry_run))

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels that have totals, top first."""
        return tuple(sorted({r.level for r in self.totals}, key=LEVELS.__getitem__))

    def floors_for(self, use: str) -> int:
        return dict(self.default_floors).get(use, dict(self.default_floors).get("residential", 6))

    def as_dict(self) -> dict[str, Any]:
        """JSON parameters of the run (the key of :class:`~geo_service.core.runs.RunCache`): the totals by digest."""
        text = "\n".join(f"{r.level}|{r.code}|{r.name}|{r.residents}|{r.households}" for r in self.totals)
        return {
            "levels": list(self.levels),
            "totals_sources": list(self.sources),
            "totals_rows": len(self.totals),
            "totals_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "raster": Path(self.raster).name if self.raster else None,
            "storey_height_m": self.storey_height_m,
            "persons_per_household": self.persons_per_household,
            "mixed_use_residential_share": self.mixed_use_residential_share,
            "default_floors": dict(self.default_floors),
        }


def _positive(value, default, name: str, label: str, lo: float, hi: float) -> float:
    v = default if value is None else value
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number", f"{label}应为数值，收到 {value!r}") from None
    if not (lo <= v <= hi):
        raise InputError(f"{name} must be in [{lo}, {hi}], got {v}", f"{label}应在 {lo} 到 {hi} 之间，收到 {v}")
    return v


def _check_duplicates(rows: list[TotalRow]) -> None:
    seen: dict[tuple, TotalRow] = {}
    dup = []
    for r in rows:
        key = (r.level, r.code or r.name)
        if key in seen and (seen[key].residents, seen[key].households) != (r.residents, r.households):
            dup.append(f"{LEVEL_ZH[r.level]} {r.label}")
        seen[key] = r
    if dup:
        raise InputError(f"conflicting totals for {dup}", "同一区域给出了不同的统计数，请核对：" + "、".join(dup[:20]))
