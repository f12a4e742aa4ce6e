"""``/units/build``: population units from an uploaded totals file (CSV/XLSX as a county keeps it), as a job.

The upload is checked while the caller waits — the file's type, size and encoding, every cell (named by the row the
spreadsheet shows and its column), and that every total names a stored admin area of its level — and only then the
``units`` background job starts (202 with the job; ``GET /jobs/{id}`` follows it).  A bad file gets 413 (too large)
or 422 with a Chinese message and the per-row report; nothing is written and no job is started.  ``check=true``
only checks (200).  The totals are read by the CLI's reader (:func:`population.params.read_totals_table`) and go to
the job as parsed rows in its parameters (so any process sharing the database can run it); an uploaded raster is
kept under ``<GEO_DATA_DIR>/uploads/`` and the job gets its path (deleted when the job has ended, done or failed).
"""

from __future__ import annotations

import re
import tempfile
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, Security, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from ..core._errors import InputError
from ..core.auth import Principal, allowed_roles, authenticate, authorize
from ..core.storage import Store
from ..jobs import KINDS
from .deps import bearer, get_store
from .schemas import ERROR_RESPONSES
from .schemas.units import TotalsCheck, UnitsBuildJob

router = APIRouter(prefix="/units", tags=["units 人口单元"])

FORM_FIELDS = ("totals", "map", "level", "levels", "raster", "check")
TOTALS_MAX_MB = 20  # a totals table of 100,000 rows is about 5 MB as CSV
TOTALS_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
RASTER_SUFFIXES = (".tif", ".tiff")
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # TIFF and BigTIFF, either byte order
MAX_FILES = 10


def units_writer(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    _cred: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> Principal:
    """The principal, if its role may write the ``population_units`` layer (401/403 otherwise)."""
    principal = authenticate(store, request.headers.get("authorization"))
    return authorize(principal, allowed_roles(layer="population_units"), "生成人口单元")


def _refuse_unknown_fields(names) -> None:
    unknown = sorted({str(n) for n in names} - set(FORM_FIELDS))
    if unknown:
        shown = ", ".join(repr(n[:60]) for n in unknown[:10])
        raise InputError(
            f"unknown form field(s) {shown}; /units/build takes {', '.join(FORM_FIELDS)}",
            f"未知的表单字段 {shown}；可用字段：{'、'.join(FORM_FIELDS)}",
            fields=unknown[:10],
        )


def _display_name(upload: UploadFile, default: str) -> str:
    """The uploaded file's own name for messages: its last part, printable characters, at most 100 of them."""
    name = Path((upload.filename or default).replace("\\", "/")).name
    name = re.sub(r"[\x00-\x1f\x7f]", "", name)[:100]
    return name or default


def _suffix(name: str, allowed: tuple[str, ...], what_zh: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in allowed:
        raise InputError(
            f"{name}: {what_zh} must be {' or '.join(allowed)}",
            f"{name}：{what_zh}应为 {'、'.join(allowed)} 文件，收到 {suffix or '无扩展名的文件'}",
            file=name,
        )
    return suffix


async def _save(upload: UploadFile, dest: Path, limit_mb: float, name: str) -> None:
    """Stream an upload to ``dest``; 413 above ``limit_mb`` (the partial file is removed)."""
    limit = int(limit_mb * 1024 * 1024)
    size = 0
    with dest.open("wb") as fh:
        while chunk := await upload.read(1024 * 1024):
            size += len(chunk)
            if size > limit:
                fh.close()
                dest.unlink(missing_ok=True)
                err = InputError(
                    f"{name} is larger than {limit_mb:g} MB",
                    f"{name} 超过 {limit_mb:g} MB 上限，未写入任何数据（统计数表通常只有几 MB，请检查是否选错了文件）",
                    file=name,
                )
                err.http_status = 413
                raise err
            fh.write(chunk)


def _check_text(path: Path, name: str) -> None:
    """A CSV must be text: NUL bytes mean another kind of file renamed."""
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    if b"\x00" in head:
        raise InputError(
            f"{name} is not a text (CSV) file", f"{name} 不是文本（CSV）文件：请上传 CSV 或 XLSX 格式的统计数表"
        )


def _levels(level: list[str] | None, levels: list[str] | None) -> list[str]:
    if level and levels:
        raise InputError("give level or levels, not both", "请只用 level 或 levels 之一指明统计层级")
    return [v.strip() for item in (level or levels or []) for v in item.split(",") if v.strip()]


def _check(params, store, raster_name: str | None) -> TotalsCheck:
    """Match the totals against the stored admin areas (422 naming those that match none)."""
    from population.params import LEVEL_ZH
    from population.service import check_totals

    matched = check_totals(store, params)
    by_level: dict[str, int] = {}
    people: dict[str, int] = {}
    for r in params.totals:
        by_level[r.level] = by_level.get(r.level, 0) + 1
        people[r.level] = people.get(r.level, 0) + r.residents
    said = "、".join(f"{LEVEL_ZH[k]} {n} 条" for k, n in by_level.items())
    message = f"统计数 {len(params.totals)} 条（{said}）" + (
        "；".join(matched["notes_zh"]) if matched["notes_zh"] else "全部对应到已有的行政区划"
    )
    if matched["areas_without_totals"]:
        n = sum(len(a["areas"]) for a in matched["areas_without_totals"])
        message += f"；另有 {n} 个区域没有统计数（其人口由上级统计数按权重分配）"
    return TotalsCheck(
        sources=list(params.sources),
        rows=len(params.totals),
        rows_by_level=by_level,
        residents_by_level=people,
        matched=matched["matched"],
        areas_without_totals=matched["areas_without_totals"],
        notes_zh=matched["notes_zh"],
        raster=raster_name,
        message_zh=message,
    )


@router.post(
    "/build",
    response_model=None,
    status_code=202,
    responses={
        202: {"model": UnitsBuildJob, "description": "Checked; the units job started (Location: its status)"},
        200: {"model": TotalsCheck, "description": "check=true: the check only, no job"},
        413: {"description": "A file larger than the limit (totals 20 MB)"},
        **ERROR_RESPONSES,
    },
    summary="Build population units from an uploaded totals file, in the background (上传统计数并生成人口单元)",
)
async def build_units(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    user: Annotated[Principal, Depends(units_writer)],
    totals: Annotated[
        list[UploadFile],
        File(description="Totals as CSV (UTF-8 or GBK) or XLSX: code and/or name, residents, households, level"),
    ],
    map_: Annotated[
        list[str] | None,
        Form(alias="map", description="FIELD=COLUMN pairs for other headers: code, name, residents, households, level"),
    ] = None,
    level: Annotated[
        list[str] | None,
        Form(
            description="Level of rows without one: district|street|community|grid (区县/街道/社区/网格); "
            "one for all files or one per file"
        ),
    ] = None,  # fmt: skip
    levels: Annotated[list[str] | None, Form(description="Same as level (the name of POST /jobs)")] = None,
    raster: Annotated[
        UploadFile | None, File(description="Population raster (GeoTIFF, any CRS) as weights instead of floor area")
    ] = None,
    check: Annotated[bool, Form(description="Only check the file: no job is started")] = False,
):
    from population.params import UnitsParams

    _refuse_unknown_fields((await request.form()).keys())
    if len(totals) > MAX_FILES:
        raise InputError(f"at most {MAX_FILES} totals files", f"一次最多上传 {MAX_FILES} 个统计数文件")
    limit_mb = min(float(TOTALS_MAX_MB), float(store.settings.max_upload_mb))
    names = [_display_name(f, f"totals-{i + 1}.csv") for i, f in enumerate(totals)]
    raster_path: Path | None = None
    with tempfile.TemporaryDirectory(prefix="geo-totals-") as tmp:
        paths = []
        for i, (upload, name) in enumerate(zip(totals, names)):
            suffix = _suffix(name, TOTALS_SUFFIXES, "统计数文件")
            path = Path(tmp) / f"totals-{i}{suffix}"
            await _save(upload, path, limit_mb, name)
            if suffix in (".csv", ".txt"):
                _check_text(path, name)
            paths.append(path)
        params = await run_in_threadpool(
            UnitsParams.from_input,
            store.norms,
            totals=paths,
            totals_names=names,
            levels=_levels(level, levels),
            column_map=map_ or None,
        )
        raster_name = _display_name(raster, "raster.tif") if raster is not None and raster.filename else None
        try:
            if raster_name is not None:
                raster_path = await _save_raster(raster, raster_name, store)
            result = await run_in_threadpool(_check, params, store, raster_name)
        except BaseException:
            if raster_path is not None:
                raster_path.unlink(missing_ok=True)
            raise
    if check:
        if raster_path is not None:
            raster_path.unlink(missing_ok=True)
        return JSONResponse(result.model_dump(mode="json"), status_code=200)
    job_params = {
        "totals": [
            {"level": r.level, "code": r.code, "name": r.name, "residents": r.residents, "households": r.households}
            for r in params.totals
        ],
        "totals_source": "、".join(params.sources),
        "raster": str(raster_path) if raster_path is not None else None,
    }
    row = request.app.state.jobs.submit("units", job_params, user.label)
    status_url = str(request.url_for("job_status", job_id=row["id"]))
    job = UnitsBuildJob(
        **{k: row.get(k) for k in ("id", "kind", "status", "created_by", "created_at", "started_at", "finished_at")},
        params={k: v for k, v in job_params.items() if k != "totals"} | {"totals_rows": len(params.totals)},
        result=row.get("result"),
        error=row.get("error"),
        kind_zh=KINDS.get(row["kind"], row["kind"]),
        status_url=status_url,
        totals=result,
    )
    return JSONResponse(job.model_dump(mode="json"), status_code=202, headers={"Location": status_url})


async def _save_raster(raster: UploadFile, name: str, store: Store) -> Path:
    """Keep an uploaded GeoTIFF under ``<data dir>/uploads`` for the job; 422 when it is no GeoTIFF with a CRS."""
    from population.weights import check_raster

    _suffix(name, RASTER_SUFFIXES, "人口栅格")
    folder = Path(store.settings.data_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"units-raster-{uuid.uuid4().hex}.tif"
    await _save(raster, path, float(store.settings.max_upload_mb), name)
    try:
        with path.open("rb") as fh:
            if fh.read(4) not in TIFF_MAGIC:
                raise InputError(f"{name} is not a GeoTIFF", f"{name} 不是 GeoTIFF 栅格文件", file=name)
        await run_in_threadpool(check_raster, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
