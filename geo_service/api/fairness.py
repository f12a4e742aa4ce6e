"""``/fairness``, ``/groups/coverage``, ``/hubs``: fairness of access, group-weighted coverage, norms from practice.

Each answer comes from a stored run reused while its inputs are unchanged (``facilities.fairness_service``);
anonymous readers may start a computation only with the default parameters (category and street only filter).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from facilities.fairness import FairnessParams, scope_rows
from facilities.fairness_service import check_category, current_fairness, current_groups, current_hubs, read_table
from population.ages import group_residents

from ..core.jsonvalues import json_records
from ..core.storage import Store
from ._runs import run_info
from .deps import Who, get_store
from .schemas import ERROR_RESPONSES
from .schemas.fairness import (
    CategoryQ,
    FairnessResponse,
    GroupCoverageResponse,
    HubsResponse,
    LimitQ,
    PlanQ,
    StreetQ,
    UnreachedQ,
)

router = APIRouter(tags=["公平 fairness"])


def _fairness(store: Store, category, street, unreached, limit_m, who) -> dict:
    params = FairnessParams.from_input(unreached, limit_m)
    check_category(category, store.norms)
    run = current_fairness(
        store,
        params,
        group_residents,
        allow_compute=who is not None or (unreached is None and limit_m is None),
    )
    table = scope_rows(read_table(store, run), [category] if category else None, street)
    cats = [category] if category else list(dict.fromkeys(table["category"]))
    worst = []
    w = read_table(store, run, f"worst_{category}") if category else []
    if len(w):
        w = w[w["scope"] == "city"] if street is None else w[w["street_code"].astype(str) == str(street)]
        worst = [{"category": category, **r} for r in json_records(w)]
    s = run["summary"]
    hint = (
        []
        if category
        else ["最差10%居民名单按类别列出：请指定 category 参数（命令行 geo-service fairness 可导出全部类别）"]
    )
    return {
        "run": run_info(run),
        "limit_m": s["limit_m"],
        "unreached": s["unreached"],
        "thresholds_m": s["thresholds_m"],
        "threshold_norms": s["threshold_norms"],
        "notes": s["notes"] + [n for c in cats for n in s.get("category_notes", {}).get(c, [])] + hint,
        "rows": json_records(table),
        "worst": worst,
    }


@router.get(
    "/fairness",
    response_model=FairnessResponse,
    responses=ERROR_RESPONSES,
    summary="Fairness of walking access: Gini, Palma, shares beyond thresholds, worst-served 10 % (公平性)",
)
async def fairness(
    store: Annotated[Store, Depends(get_store)],
    who: Who,
    category: CategoryQ = None,
    street: StreetQ = None,
    unreached: UnreachedQ = None,
    limit_m: LimitQ = None,
):
    """Per category, city-wide and per street (or one street): weighted by the residents of the group served.

    The worst-served list (with ``category``) is the city-wide one, or the street's when ``street`` is given.
    """
    return await run_in_threadpool(_fairness, store, category or None, street or None, unreached, limit_m, who)


def _groups(store: Store, street, who) -> dict:
    run = current_groups(store, group_residents, allow_compute=True)
    table = scope_rows(read_table(store, run), None, street)
    s = run["summary"]
    return {
        "run": run_info(run),
        "coverage_run_id": s["coverage_run_id"],
        "categories": s["categories"],
        "notes": s["notes"],
        "rows": json_records(table),
    }


@router.get(
    "/groups/coverage",
    response_model=GroupCoverageResponse,
    responses=ERROR_RESPONSES,
    summary="Coverage weighed by the group each category serves, with TD/T 1062-2021 tiers (分人群覆盖率)",
)
async def groups_coverage(store: Annotated[Store, Depends(get_store)], who: Who, street: StreetQ = None):
    return await run_in_threadpool(_groups, store, street or None, who)


def _hubs(store: Store, plan, who) -> dict:
    run = current_hubs(store, plan=plan, allow_compute=who is not None or plan is None)
    return {
        "run": run_info(run),
        "summary": run["summary"],
        "hubs": json_records(read_table(store, run, "hubs")),
        "service_space": json_records(read_table(store, run, "service_space")),
    }


@router.get(
    "/hubs",
    response_model=HubsResponse,
    responses=ERROR_RESPONSES,
    summary="Embedded service hubs and the 30/80 m² service-space tiers per community (嵌入式综合体与服务用房分级)",
)
async def hubs(store: Annotated[Store, Depends(get_store)], who: Who, plan: PlanQ = None):
    return await run_in_threadpool(_hubs, store, plan or None, who)
