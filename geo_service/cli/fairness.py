"""公平性与人群分组 / Fairness of access and groups of residents (issue 17): ``fairness``, ``groups``, ``hubs``."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from ._common import DbOpt, cli_errors, console, open_store, out, pct

app = typer.Typer(help="公平性与人群分组 / Fairness of access and groups of residents (issue 17)", no_args_is_help=True)

OutOpt = typer.Option(None, "--out", help="输出 XLSX 文件（中文表头）；不给时只显示汇总")
StreetOpt = typer.Option(None, "--street", help="只看一个街道（街道代码），另列全市")


def _norm_rows(norms, paths):
    """The norms used, one row each (path, value, source, status), for the workbook's last sheet."""
    import pandas as pd

    rows = []
    for p in paths:
        e = norms.entry(p)
        value = {k: v for k, v in e.model_dump().items() if k not in ("source", "status", "note") and v is not None}
        shown = value["value"] if set(value) == {"value"} else "；".join(f"{k}={v}" for k, v in value.items())
        rows.append({"path": p, "value": str(shown), "source": e.source, "norm_status": e.status})
    return pd.DataFrame(rows)


def _num(x, fmt="{:.3f}") -> str:
    return "—" if _none(x) is None else fmt.format(x)


@app.command("fairness")
def fairness_cmd(
    category: str | None = typer.Option(None, "--category", help="设施类别代码，如 kindergarten（默认全部）"),
    street: str | None = StreetOpt,
    unreached: str = typer.Option("cap", "--unreached", help="搜索上限内不可达的单元：cap 按上限计，exclude 不计入"),
    limit_m: float | None = typer.Option(None, "--limit-m", help="步行搜索上限（米），500–5000，默认 2000"),
    out_file: Path | None = OutOpt,
    recompute: bool = typer.Option(False, "--recompute", help="即使数据未变也重新计算"),
    database_url: str | None = DbOpt,
):
    """Fairness of walking access per category, street and city (设施可达性公平：基尼系数、帕尔马比值、最差10%)."""
    import pandas as pd

    from facilities.fairness import FairnessParams, scope_rows
    from facilities.fairness_report import write_workbook
    from facilities.fairness_service import check_category, current_fairness, read_table
    from population.ages import group_residents

    with cli_errors():
        params = FairnessParams.from_input(unreached, limit_m)
        store = open_store(database_url)
        check_category(category, store.norms)
        run = current_fairness(store, params, group_residents, recompute=recompute)
        s = run["summary"]
        table = scope_rows(read_table(store, run), [category] if category else None, street)
        console.print(f"设施可达性公平分析（运行编号 {run['id']}，步行搜索上限 {s['limit_m']:.0f} 米）")
        city = table[table["scope"] == "city"]
        for _, r in city.iterrows():
            out.print(
                f"  {r['category_zh']}（按{_GROUP_ZH.get(r['group'], r['group'])}）：基尼 {_num(r['gini'])}，"
                f"帕尔马 {_num(r['palma'], '{:.2f}')}，超过 300/500/1000 米 {pct(_none(r['beyond_5min_share']))}/"
                f"{pct(_none(r['beyond_10min_share']))}/{pct(_none(r['beyond_15min_share']))}，"
                f"不可达 {pct(_none(r['unreached_share']))}"
            )
        if street is not None and not (table["scope"] == "street").any():
            known = "、".join(sorted(set(read_table(store, run)["street_code"]) - {"全市"}))
            console.print(f"[yellow]提示：[/yellow]没有街道代码为「{street}」的人口单元；可用：{known}")
        cats = [category] if category else list(dict.fromkeys(table["category"]))
        for n in s["notes"] + [n for c in cats for n in s.get("category_notes", {}).get(c, [])]:
            console.print(f"[yellow]提示：[/yellow]{n}")
        if out_file is None:
            return
        worst = []
        for c in cats:
            w = read_table(store, run, f"worst_{c}")
            if len(w):
                if street is not None:
                    w = w[(w["scope"] == "city") | (w["street_code"].astype(str) == str(street))]
                worst.append(w.assign(category=c)[["category", *w.columns]])
        paths = [f"life_circles.{lv}" for lv in ("5min", "10min", "15min")] + ["age_groups.served_by"]
        path = write_workbook(
            out_file,
            {
                "全市": city,
                "各街道": table[table["scope"] == "street"],
                "最差10%居民": pd.concat(worst, ignore_index=True) if worst else pd.DataFrame(),
                "规范依据": _norm_rows(store.norms, paths),
            },
        )
        out.print(f"已写出：{path}")


def _none(x):
    return None if x is None or math.isnan(float(x)) else float(x)


_GROUP_ZH = {
    "all": "全体居民",
    "0_3": "0–3岁",
    "3_6": "3–6岁",
    "0_6": "0–6岁",
    "6_12": "6–12岁",
    "60plus": "60岁及以上",
    "80plus": "80岁及以上",
}


@app.command("groups")
def groups_cmd(
    street: str | None = StreetOpt,
    out_file: Path | None = OutOpt,
    recompute: bool = typer.Option(False, "--recompute", help="即使数据未变也重新计算"),
    database_url: str | None = DbOpt,
):
    """Coverage weighed by the group each category serves (分人群覆盖率：托儿所按0–3岁、幼儿园按3–6岁……)."""
    from facilities.fairness import scope_rows
    from facilities.fairness_report import write_workbook
    from facilities.fairness_service import current_groups, read_table
    from population.ages import group_residents

    with cli_errors():
        store = open_store(database_url)
        run = current_groups(store, group_residents, recompute=recompute)
        table = scope_rows(read_table(store, run), None, street)
        console.print(f"分人群覆盖率（运行编号 {run['id']}，基于覆盖分析 {run['summary']['coverage_run_id']}）")
        for _, r in table[table["scope"] == "city"].iterrows():
            if _none(r["group_residents"]) is None:  # some unit lacks the group's figure: say why, no figure
                out.print(
                    f"  {r['category_zh']}（{r['tier_zh']}）：{r['group_zh']} 覆盖率无法计算（{r.get('note_zh')}）"
                )
                continue
            out.print(
                f"  {r['category_zh']}（{r['tier_zh']}）：{r['group_zh']} {r['group_residents']:,.0f} 人，"
                f"覆盖率 {pct(_none(r['group_rate']))}（全体居民 {pct(_none(r['all_rate']))}）"
                + (f"，未覆盖 {r['uncovered_group_residents']:,.0f} 人" if "uncovered_group_residents" in r else "")
                + (f"，其中 {pct(_none(r['derived_share']))} 按普查结构推算" if r["group"] != "all" else "")
            )
        for n in run["summary"]["notes"]:
            console.print(f"[yellow]提示：[/yellow]{n}")
        if out_file is None:
            return
        paths = ["age_groups.census_shares", "age_groups.served_by", "age_groups.service_tiers"]
        path = write_workbook(
            out_file,
            {
                "全市": table[table["scope"] == "city"],
                "各街道": table[table["scope"] == "street"],
                "规范依据": _norm_rows(store.norms, paths),
            },
        )
        out.print(f"已写出：{path}")


@app.command("hubs")
def hubs_cmd(
    plan: str | None = typer.Option(None, "--plan", help="社区划分方案编号或名称（默认已批准的方案）"),
    out_file: Path | None = OutOpt,
    recompute: bool = typer.Option(False, "--recompute", help="即使数据未变也重新计算"),
    database_url: str | None = DbOpt,
):
    """Embedded service hubs and the 30/80 m² service-space tiers (嵌入式服务综合体核查与社区服务用房分级)."""
    from facilities.fairness_report import write_workbook
    from facilities.fairness_service import current_hubs, read_table

    with cli_errors():
        store = open_store(database_url)
        run = current_hubs(store, plan=plan, recompute=recompute)
        s = run["summary"]
        n = s["norms"]
        hubs = read_table(store, run, "hubs")
        space = read_table(store, run, "service_space")
        console.print(f"嵌入式服务综合体与社区服务用房（运行编号 {run['id']}）")
        by = s["hubs_by_status"]
        out.print(
            f"  嵌入式服务综合体 {s['hubs']} 处（≥{n['hub_floor_m2']:.0f} m²，≥{n['hub_min_functions']} 项功能，"
            f"其中核心功能 ≥{n['hub_min_core_functions']} 项）：达标 {by.get('meets', 0)}，"
            f"不达标 {by.get('fails', 0)}，无法判断 {by.get('cannot_assess', 0)}"
        )
        out.print(f"    依据：{n['embedded_hub_source']}（{n['embedded_hub_status']}）")
        t = s["tiers"]
        if s["communities"]:
            out.print(
                f"  社区综合服务设施面积（{s['communities']} 个社区）：达到目标值（每百户 "
                f"{n['target_m2_per_100_households']:.0f} m²）{t.get('meets_target', 0)} 个，达到底线（每百户 "
                f"{n['minimum_m2_per_100_households']:.0f} m²）未达目标 {t.get('meets_minimum', 0)} 个，"
                f"低于底线 {t.get('below_minimum', 0)} 个，无法判断 {t.get('cannot_assess', 0)} 个"
            )
        for note in s["notes"]:
            console.print(f"[yellow]提示：[/yellow]{note}")
        if out_file is None:
            return
        paths = [
            "community.embedded_hub",
            "community.service_floor_m2_per_100_households",
            "community.service_floor_m2_per_100_households_target",
        ]
        path = write_workbook(
            out_file,
            {"嵌入式服务综合体": hubs, "社区服务用房分级": space, "规范依据": _norm_rows(store.norms, paths)},
        )
        out.print(f"已写出：{path}")
