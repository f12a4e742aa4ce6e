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

__all__ = ["LEVELS", "LEVEL_ZH", "FALLBACK_NORMS", "TotalRow", "UnitsParams", "read_totals_table", "totals_rows"]

# Statistical levels, top (0) to bottom; ``county`` is an alias of ``district``.
LEVELS: dict[str, int] = {"district": 0, "street": 1, "community": 2, "grid": 3}
LEVEL_ZH: dict[str, str] = {"district": "区县", "street": "街道（乡镇）", "community": "社区", "grid": "网格"}
LEVEL_ALIASES: dict[str, str] = {
    "county": "district",
    "区县": "district",
    "区": "district",
    "县": "district",
    "街道": "street",
    "乡镇": "street",
    "街道（乡镇）": "street",
    "社区": "community",
    "村": "community",
    "网格": "grid",
}

FALLBACK_NORMS: dict[str, Any] = {
    "storey_height_m": 3.0,
    "persons_per_household": 2.39,  # 德阳市七普公报：家庭户平均 2.39 人
    "mixed_use_residential_share": 0.5,
    "default_floors": {"residential": 6, "mixed": 4, "other": 2},
}

CODE_HEADERS = ("code", "adcode", "代码", "行政区划代码", "区划代码", "统计用区划代码", "编码", "编号")
NAME_HEADERS = ("name", "名称", "区划名称", "地区", "单位", "单位名称", "地名")
RESIDENTS_HEADERS = ("residents", "population", "常住人口", "常住人口数", "人口", "人口数", "总人口")
HOUSEHOLDS_HEADERS = ("households", "户数", "总户数", "家庭户数", "家庭户")
LEVEL_HEADERS = ("level", "层级", "级别")
MAX_TOTAL = 100_000_000


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
    number = float(text)
    if not math.isfinite(number) or number < 0 or number != int(number) or number > MAX_TOTAL:
        raise ValueError(text)
    return int(number)


def totals_rows(frame: pd.DataFrame, level: str | None, source: str) -> list[TotalRow]:
    """The totals of a table: one :class:`TotalRow` per row.

    Parameters
    ----------
    frame : DataFrame
        Columns for the code and/or the name, residents (persons), optionally households and a level column.
    level : str, optional
        The level of every row when the table has no level column.
    source : str
        The file name (or ``"job"``), for messages.
    """
    cols = [str(c) for c in frame.columns]
    frame = frame.set_axis(cols, axis=1)
    code_col, name_col = _column(cols, CODE_HEADERS), _column(cols, NAME_HEADERS)
    res_col = _column(cols, RESIDENTS_HEADERS, prefix=True)
    hh_col = _column(cols, HOUSEHOLDS_HEADERS, prefix=True)
    lvl_col = _column(cols, LEVEL_HEADERS)
    if res_col is None or (code_col is None and name_col is None):
        raise InputError(
            f"{source}: totals need a code or name column and a residents column; found {cols}",
            f"{source}：统计数表须有代码（代码/行政区划代码）或名称列，以及常住人口列；现有列 {cols}",
        )
    if lvl_col is None and level is None:
        raise InputError(
            f"{source}: give the level of the totals (--level) or a level column",
            f"{source}：请用 --level 指明统计层级（street、community、district、grid），或在表中给出“层级”列",
        )
    rows, bad = [], []
    for i, rec in enumerate(frame.to_dict("records"), start=2):
        code = _text(rec.get(code_col)) if code_col else None
        name = _text(rec.get(name_col)) if name_col else None
        if code is None and name is None and _text(rec.get(res_col)) is None:
            continue  # blank line
        try:
            residents = _count(rec.get(res_col))
            households = _count(rec.get(hh_col)) if hh_col else None
        except ValueError as exc:
            bad.append(f"第 {i} 行（{name or code}）：{exc.args[0]!r} 不是非负整数")
            continue
        if residents is None:
            bad.append(f"第 {i} 行（{name or code}）：缺少常住人口")
            continue
        lvl = _level(rec.get(lvl_col) if lvl_col and _text(rec.get(lvl_col)) else level)
        rows.append(TotalRow(lvl, code, name, residents, households, source))
    if bad:
        raise InputError(
            f"{source}: {len(bad)} bad count(s) in the totals",
            f"{source}：统计数有误（人口、户数须为非负整数），未写入任何数据：" + "；".join(bad[:20]),
        )
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


def read_totals_table(path: str | Path, level: str | None) -> list[TotalRow]:
    """Read a CSV (UTF-8 or GB18030) or XLSX file of totals; see :func:`totals_rows`."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"file not found: {path}", f"找不到统计数文件：{path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            from geo_service.core.io import check_zip

            check_zip(path, nested_ok=True)
            frame = pd.read_excel(path, engine="openpyxl", dtype=object)
        elif suffix in (".csv", ".txt"):
            frame = None
            for enc in ("utf-8-sig", "gb18030"):
                try:
                    frame = pd.read_csv(path, encoding=enc, dtype=object)
                    break
                except UnicodeDecodeError:
                    continue
            if frame is None:
                raise InputError(f"cannot decode {path.name}", f"无法识别 {path.name} 的文字编码（应为 UTF-8 或 GBK）")
        else:
            raise InputError(
                f"totals must be .csv or .xlsx, got {path.name}", f"统计数文件应为 .csv 或 .xlsx，收到 {path.name}"
            )
    except InputError:
        raise
    except Exception as exc:  # pandas/openpyxl: the file cannot be read at all
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read {path.name}: {msg}", f"无法读取统计数文件 {path.name}：{msg}") from exc
    return totals_rows(frame, level, path.name)


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
        levels: Sequence[str] | None = None,
        rows: Sequence[Mapping[str, Any]] | None = None,
        raster: str | Path | None = None,
        storey_height_m: float | None = None,
        persons_per_household: float | None = None,
        mixed_use_residential_share: float | None = None,
        dry_run: bool = False,
    ) -> UnitsParams:
        """Validate CLI/HTTP/job input.

        ``totals`` are files, ``levels`` their levels (one for all, one per file, or none when the tables have a
        level column); ``rows`` are totals as JSON records (a job's params), each with ``level``.
        """
        levels = [_level(v) for v in (levels or [])]
        files = [Path(p) for p in (totals or [])]
        if levels and files and len(levels) not in (1, len(files)):
            raise InputError(
                "give one --level, or one per --totals file",
                f"--level 的个数（{len(levels)}）应为 1 个，或与 --totals 文件个数（{len(files)}）相同",
            )
        out: list[TotalRow] = []
        for i, path in enumerate(files):
            lvl = levels[i if len(levels) == len(files) else 0] if levels else None
            out.extend(read_totals_table(path, lvl))
        if rows:
            out.extend(totals_rows(pd.DataFrame(list(rows)), levels[0] if levels else None, "job"))
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
