"""Boundary-plan commands (Art. 3): ``geo-service delineate`` and ``geo-service plan ...``.

Messages are in Chinese; bad input exits with code 1 and a message.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from geo_service.core._errors import InputError
from geo_service.core.auth import cli_actor
from geo_service.core.jsonvalues import plain

from ._common import DbOpt, cli_errors, console, format_of, open_store, out

app = typer.Typer()
plan_app = typer.Typer(
    help="社区划分方案：评估、人口单元、编辑、导出、采纳 / Community boundary plans.", no_args_is_help=True
)
app.add_typer(plan_app, name="plan")


def _svc(database_url):
    from boundaries.service import PlanService

    return PlanService(open_store(database_url))


@app.command("delineate")
def delineate_cmd(
    street: list[str] = typer.Option(..., "--street", "-s", help="街道代码（可重复给出多个）；all 表示全部街道"),
    households: str | None = typer.Option(
        None, "--households", help="每个社区的户数范围 下限-上限，如 1000-3000（默认取规范配置）"
    ),
    from_plan: str | None = typer.Option(None, "--from-plan", help="现状方案（编号或名称）：在其基础上最小调整"),
    k: int | None = typer.Option(
        None, "--k", min=1, help="社区数量（仅限单个街道；默认按户数、户数范围和社区工作者数确定）"
    ),
    mode: str | None = typer.Option(
        None,
        "--mode",
        help="fresh（重新划分）| closest（重新划分并尽量接近现状）| "
        "minimal_change（最小调整，给出 --from-plan 时默认）",
    ),
    name: str | None = typer.Option(None, "--name", help="草案名称（默认“划分草案 <时间>”）"),
    out_file: Path | None = typer.Option(
        None, "--out", "-o", help="同时导出到文件（.gpkg、.geojson 或 .zip 即 Shapefile）"
    ),
    crs: str = typer.Option("EPSG:4490", "--crs", help="导出坐标系（默认 EPSG:4490 CGCS2000）"),
    no_save: bool = typer.Option(False, "--no-save", help="不写入数据库，只输出结果"),
    database_url: str | None = DbOpt,
):
    """Propose a community plan for streets (按户数范围自动划分社区，生成草案)."""
    from boundaries.params import DelineationParams

    with cli_errors():
        svc = _svc(database_url)
        params = DelineationParams.from_input(
            svc.norms, streets=street, households=households, k=k, from_plan=from_plan, mode=mode
        )
        res = svc.delineate(params, name=name, created_by=cli_actor(), save=not no_save)
        tot = res["evaluation"].totals
        line = (
            f"划分完成（{res['mode']}）：{tot['communities']} 个社区，户数达标 {tot['in_band']} 个，"
            f"户数 {tot['households_min']}-{tot['households_max']}，"
            f"平均紧凑度（Polsby-Popper）{tot['polsby_popper_mean']:.2f}，"
            f"用时 {res['seconds']:.2f} 秒"
        )
        if "residents_moved" in tot:
            line += f"，相对现状调整居民 {tot['residents_moved']} 人"
        out.print(line)
        for p in res["problems"]:
            who = p.get("code") or p.get("street_code")
            console.print(f"[yellow]未达标[/yellow] {who}：", end="")
            console.print(p["reason_zh"], markup=False, highlight=False)
        if res["plan_id"] is not None:
            out.print(f"已保存为草案「{res['name']}」（方案编号 {res['plan_id']}，版本 1）")
        if out_file is not None:
            from boundaries.service import EXPORT_COLUMNS, export_frame
            from geo_service.core.exporter import reproject
            from geo_service.core.io import write_file

            fmt = format_of(out_file)
            gdf = reproject(export_frame(svc.unit_set(), res["evaluation"].communities), crs)
            path = write_file(gdf, out_file, fmt, layer_name="communities", headers_zh=EXPORT_COLUMNS)
            out.print(f"已导出 {len(gdf)} 个社区到 {path}（{fmt}，{crs}）")


@plan_app.command("list")
def plan_list(database_url: str | None = DbOpt):
    """List plans (方案列表)."""
    with cli_errors():
        for p in _svc(database_url).list_plans():
            out.print(f"{p['id']}\t{p['name']}\t版本 {p['version']}\t{p['status']}\t{p['communities']} 个社区")


@plan_app.command("evaluate")
def plan_evaluate(
    plan: str = typer.Argument(..., help="方案编号或名称"),
    households: str | None = typer.Option(None, "--households", help="户数范围 下限-上限"),
    other: str | None = typer.Option(None, "--other", help="对比方案：统计调整的居民数"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    database_url: str | None = DbOpt,
):
    """Evaluate a plan (方案评估：户数、连续性、紧凑度、服务站、社区工作者)."""
    from boundaries.params import EvaluationParams
    from boundaries.service import rows_records

    with cli_errors():
        svc = _svc(database_url)
        row, ev, ver = svc.evaluate(plan, EvaluationParams.from_input(svc.norms, households=households, other=other))
        if as_json:
            out.print(
                json.dumps(
                    {
                        "plan_id": row["id"],
                        "version": ver,
                        "totals": plain(ev.totals),
                        "communities": rows_records(ev.communities),
                    },
                    ensure_ascii=False,
                    indent=1,
                )
            )
            return
        t = ev.totals
        out.print(
            f"方案「{row['name']}」版本 {ver}：{t['communities']} 个社区，户数达标 {t['in_band']} 个，"
            f"连续 {t['contiguous']} 个，"
            f"平均 Polsby-Popper {t['polsby_popper_mean']:.2f}，凸包比 {t['convex_hull_ratio_mean']:.2f}，"
            f"有问题的社区 {t['communities_flagged']} 个（服务站距离：{t['station_distance_method']}）"
        )
        for r in ev.communities.itertuples():
            if r.flags:
                console.print(
                    f"{r.code} {r.name}：" + "；".join(f["label_zh"] for f in r.flags),
                    markup=False,
                    highlight=False,
                )


@plan_app.command("export")
def plan_export(
    plan: str = typer.Argument(..., help="方案编号或名称"),
    out_file: Path = typer.Option(..., "--out", "-o", help="输出文件：.gpkg、.geojson 或 .zip（Shapefile）"),
    crs: str = typer.Option("EPSG:4490", "--crs", help="输出坐标系（默认 EPSG:4490）"),
    database_url: str | None = DbOpt,
):
    """Export a plan's communities with their figures (导出方案)."""
    with cli_errors():
        path, n = _svc(database_url).export(plan, format_of(out_file), out_file, crs=crs)
        out.print(f"已导出 {n} 个社区到 {path}（{crs}）")


def _print_preview(pv: dict) -> None:
    """The adoption preview (:meth:`boundaries.service.PlanService.adoption_preview`) in Chinese."""
    base = pv["adopted"]
    say = lambda text: out.print(text, markup=False, highlight=False)  # noqa: E731
    say(
        f"采纳预览：方案「{pv['plan']['name']}」版本 {pv['plan']['version']}，"
        f"覆盖街道 {'、'.join(pv['streets']) or '无'}"
    )
    say(
        f"全市社区 {pv['communities_before']} 个 → {pv['communities_after']} 个"
        + (
            f"（沿用现行方案「{base['name']}」其他街道的 {pv['communities_kept']} 个社区）"
            if base and pv["communities_kept"]
            else ""
        )
    )
    say(
        f"新增社区 {len(pv['added'])} 个，撤销社区 {len(pv['removed'])} 个，范围调整 {len(pv['changed'])} 个；"
        f"调整人口单元 {pv['units_moved']} 个，居民 {pv['residents_moved']} 人，{pv['households_moved']} 户"
    )
    for label, rows in (("新增", pv["added"]), ("撤销", pv["removed"]), ("调整", pv["changed"])):
        for r in rows:
            say(f"  {label} {r['code']} {r['name'] or ''}：{r['households']} 户，{r['residents']} 人")
    for r in pv["moved_by_street"]:
        say(f"  街道 {r['street_code']}：调整居民 {r['residents']} 人（{r['units']} 个单元）")
    if pv["refused_zh"]:
        console.print(f"[red]不能采纳[/red]：{pv['refused_zh']}", highlight=False)


@plan_app.command("adopt")
def plan_adopt(
    plan: str = typer.Argument(..., help="方案编号或名称"),
    by: str | None = typer.Option(None, "--by", help="采纳人（姓名或单位）"),
    preview: bool = typer.Option(False, "--preview", help="只预览全市的变化（新增、撤销的社区，调整的居民），不采纳"),
    yes: bool = typer.Option(False, "--yes", "-y", help="不询问，预览后直接采纳"),
    database_url: str | None = DbOpt,
):
    """Adopt a plan after a city-wide preview (预览全市变化后采纳方案，记录采纳人和时间)."""
    with cli_errors():
        svc = _svc(database_url)
        pv = svc.adoption_preview(plan)
        _print_preview(pv)
        if preview:
            return
        if not by or not by.strip():
            raise InputError("adoption needs --by", "采纳方案须用 --by 注明采纳人（姓名或单位）")
        if pv["refused_zh"]:
            raise typer.Exit(1)
        if not yes and not typer.confirm("确认采纳？", default=False):
            out.print("未采纳")
            raise typer.Exit(1)
        res = svc.adopt(plan, adopted_by=by, actor=cli_actor())
        out.print(f"方案 {res['plan_id']} 版本 {res['version']} 已由 {res['adopted_by']} 于 {res['adopted_at']} 采纳")
        merged = res.get("merged_from")
        if merged:
            out.print(
                f"草案只含部分街道：其余街道沿用现行方案「{merged['name']}」的 {merged['communities_kept']} 个社区，"
                f"合并为版本 {res['version']}"
            )
        for s in res["superseded"]:
            out.print(f"原方案「{s['name']}」改为已被替代")


@plan_app.command("history")
def plan_history(database_url: str | None = DbOpt):
    """Every adopted state, newest first (采纳历史；旧的采纳状态仍可查看)."""
    with cli_errors():
        rows = _svc(database_url).adoptions()
        if not rows:
            out.print("尚无采纳记录")
        for a in rows:
            now = "现行" if a["current"] else "已被替代"
            when = a["adopted_at"].strftime("%Y-%m-%d %H:%M") if a["adopted_at"] else "（采纳时间未记录）"
            out.print(
                f"{when}\t方案 {a['plan_id']}「{a['name']}」版本 {a['version']}\t{a['adopted_by'] or ''}\t{now}",
                markup=False,
                highlight=False,
            )


@plan_app.command("diff")
def plan_diff(
    a: str = typer.Argument(..., help="方案 A（编号或名称，可写作 名称@版本）"),
    b: str = typer.Argument(..., help="方案 B（编号或名称，可写作 名称@版本）"),
    limit: int = typer.Option(20, "--limit", min=0, help="最多列出多少个调整的人口单元"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    database_url: str | None = DbOpt,
):
    """Compare two plans: units and residents moved, per street and between communities (对比两个方案)."""
    from boundaries.params import EvaluationParams

    with cli_errors():
        svc = _svc(database_url)
        (pa, va), (pb, vb) = _plan_at(a), _plan_at(b)
        d = svc.diff(pb, pa, version=vb, other_version=va)
        totals = [
            svc.evaluate(p, EvaluationParams.from_input(svc.norms, version=v))[1].totals
            for p, v in ((pa, va), (pb, vb))
        ]
        if as_json:
            body = {k: d[k] for k in ("from", "to", "units_moved", "residents_moved", "households_moved")}
            body.update(
                streets=d["streets"].to_dict(orient="records"),
                flows=d["flows"].to_dict(orient="records"),
                moves=d["moves"].head(limit).to_dict(orient="records"),
                totals={"a": totals[0], "b": totals[1]},
            )
            out.print(json.dumps(plain(body), ensure_ascii=False, indent=1), markup=False, highlight=False)
            return
        say = lambda text: out.print(text, markup=False, highlight=False)  # noqa: E731
        fa, fb = d["from"], d["to"]
        say(f"A：方案「{fa['name']}」版本 {fa['version']}；B：方案「{fb['name']}」版本 {fb['version']}")
        say(f"调整人口单元 {d['units_moved']} 个，居民 {d['residents_moved']} 人，{d['households_moved']} 户")
        for label, key, fmt in (
            ("社区数", "communities", "{:d}"),
            ("户数达标", "in_band", "{:d}"),
            ("连续", "contiguous", "{:d}"),
            ("有问题的社区", "communities_flagged", "{:d}"),
            ("平均 Polsby-Popper", "polsby_popper_mean", "{:.3f}"),
        ):
            va_, vb_ = totals[0].get(key), totals[1].get(key)
            sa_, sb_ = ("—" if v is None else fmt.format(v) for v in (va_, vb_))
            say(f"  {label}：A {sa_}，B {sb_}")
        for r in d["streets"].itertuples():
            say(f"  街道 {r.street_code}：调整居民 {int(r.residents)} 人（{int(r.units)} 个单元）")
        for r in d["flows"].itertuples():
            say(
                f"  {r.from_code or '（未分配）'} → {r.to_code or '（未分配）'}："
                f"{int(r.units)} 个单元，{int(r.residents)} 人"
            )
        for r in d["moves"].head(limit).itertuples():
            say(
                f"    单元 {r.unit_id} {r.name or r.source_id}：{r.from_code or '—'} → {r.to_code or '—'}，"
                f"{int(r.residents)} 人"
            )


def _plan_at(text: str) -> tuple[str, int | None]:
    """``名称@3`` -> (名称, 3); a plain name or id -> (it, None)."""
    name, sep, ver = text.rpartition("@")
    if sep and ver.isdigit() and name:
        return name, int(ver)
    return text, None


@plan_app.command("units")
def plan_units(
    plan: str = typer.Argument(..., help="方案编号或名称"),
    community: str | None = typer.Option(None, "--community", "-c", help="只列出该社区（社区代码）的人口单元"),
    version: int | None = typer.Option(None, "--version", min=1, help="方案版本（默认当前版本）"),
    database_url: str | None = DbOpt,
):
    """List the population units of a plan with their community (人口单元及所属社区；编辑时使用单元编号)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    with cli_errors():
        row, ver, _state, _us, frame = _svc(database_url).units_table(plan, version, community)
        where = f"社区 {community} 的" if community else ""
        out.print(
            f"方案「{row['name']}」版本 {ver}（当前版本 {row['version']}）：{where}{len(frame)} 个人口单元，"
            f"户数合计 {int(frame['households'].sum()) if len(frame) else 0}",
            markup=False,
            highlight=False,
        )
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for head in ("单元编号", "名称", "户数", "社区"):
            table.add_column(head, justify="right" if head in ("单元编号", "户数") else "left")
        for r in frame.itertuples():
            comm = f"{r.community_code} {r.community_name or ''}".strip() if r.community_code else "（未分配）"
            table.add_row(*(Text(str(v)) for v in (r.unit_id, r.name or r.source_id, r.households, comm)))
        out.print(table)


def _parse_line(text: str) -> list[tuple[float, float]]:
    """``"lon lat, lon lat, …"`` (EPSG:4326) as points; InputError in Chinese when malformed."""
    import math

    bad = InputError(
        f"--line must be 'lon lat, lon lat, ...' with at least two points, got {text!r}",
        f"分割线格式应为“经度 纬度, 经度 纬度, …”（至少两个点，WGS84 经纬度），收到 {text!r}",
    )
    pts = []
    for part in text.split(","):
        xy = part.split()
        if len(xy) != 2:
            raise bad
        try:
            lon, lat = float(xy[0]), float(xy[1])
        except ValueError:
            raise bad from None
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise bad
        pts.append((lon, lat))
    if len(pts) < 2:
        raise bad
    return pts


def _edit_of(move, to, merge, into, split, line, rename, name, new_code, new_name) -> dict:
    """The edit dict (``boundaries.edit.apply_edit``) of the command's options; exactly one action."""
    given = [a for a, v in (("move", move), ("merge", merge), ("split", split), ("rename", rename)) if v]
    if len(given) != 1:
        raise InputError(
            "give exactly one of --move, --merge, --split, --rename",
            "请给出且只给出一种操作：--move（移动单元）、--merge（合并）、--split（拆分）、--rename（改名）",
        )
    needs = {"move": ("--to", to), "merge": ("--into", into), "split": ("--line", line), "rename": ("--name", name)}
    opt, value = needs[given[0]]
    if not value:
        raise InputError(f"--{given[0]} needs {opt}", f"--{given[0]} 须同时给出 {opt}")
    if given[0] == "move":
        try:
            units = [int(u) for u in move.replace("，", ",").split(",") if u.strip()]
        except ValueError:
            raise InputError(
                f"--move takes unit ids separated by commas, got {move!r}",
                f"--move 应为以逗号分隔的人口单元编号（见 geo-service plan units），收到 {move!r}",
            ) from None
        return {"action": "move", "units": units, "to": to}
    if given[0] == "merge":
        return {"action": "merge", "from": merge, "into": into}
    if given[0] == "rename":
        return {"action": "rename", "code": rename, "name": name}
    edit = {"action": "split", "code": split, "line": _parse_line(line)}
    if new_code:
        edit["new_code"] = new_code
    if new_name:
        edit["new_name"] = new_name
    return edit


ACTIONS_ZH = {"move": "移动人口单元", "merge": "合并社区", "split": "拆分社区", "rename": "社区改名"}


def _print_figures(rows, removed: list[str]) -> None:
    for r in rows.itertuples():
        band = "达标" if r.in_band else f"偏离 {int(r.deviation_households):+d} 户"
        cont = "连续" if r.contiguous else f"不连续（{int(r.parts)} 块）"
        nested = "" if r.nested else "，跨街道"
        line = (
            f"社区 {r.code} {r.name}：户数 {int(r.households)}（范围 {int(r.band_min)}-{int(r.band_max)}，{band}），"
            f"常住人口 {int(r.residents)}，{cont}{nested}"
        )
        if r.flags:
            line += "；问题：" + "；".join(f["label_zh"] for f in r.flags)
        out.print(line, markup=False, highlight=False)
    for code in removed:
        out.print(f"社区 {code} 已并入其他社区并删除", markup=False, highlight=False)


@plan_app.command("edit")
def plan_edit(
    plan: str = typer.Argument(..., help="方案编号或名称"),
    version: int | None = typer.Option(
        None, "--version", min=1, help="您查看时的方案版本（默认当前版本）；方案已被他人修改时拒绝执行"
    ),
    move: str | None = typer.Option(None, "--move", help="移动人口单元：单元编号，逗号分隔（见 plan units）"),
    to: str | None = typer.Option(None, "--to", help="移入的社区代码（与 --move 同用）"),
    merge: str | None = typer.Option(None, "--merge", help="合并：被并入的社区代码"),
    into: str | None = typer.Option(None, "--into", help="合并后保留的社区代码（与 --merge 同用）"),
    split: str | None = typer.Option(None, "--split", help="拆分：社区代码"),
    line: str | None = typer.Option(
        None, "--line", help="拆分线（WGS84）：“经度 纬度, 经度 纬度, …”，户数较少的一侧成为新社区"
    ),
    new_code: str | None = typer.Option(None, "--new-code", help="拆分出的新社区代码（默认自动编号）"),
    new_name: str | None = typer.Option(None, "--new-name", help="拆分出的新社区名称"),
    rename: str | None = typer.Option(None, "--rename", help="改名：社区代码"),
    name: str | None = typer.Option(None, "--name", help="新的社区名称（与 --rename 同用）"),
    database_url: str | None = DbOpt,
):
    """Edit a plan: move units, merge, split along a line, rename (编辑方案：移动单元、合并、拆分、改名)."""
    with cli_errors():
        edit = _edit_of(move, to, merge, into, split, line, rename, name, new_code, new_name)
        svc = _svc(database_url)
        row = svc.plan(plan)
        if version is None:
            version = int(row["version"])
            out.print(f"未指定 --version：按方案当前版本 {version} 编辑", markup=False, highlight=False)
        if edit["action"] == "split":
            from boundaries.edit import units_split_by_line

            _, state, _, _ = svc.state(row["id"], version)
            edit["units"] = units_split_by_line(svc.unit_set(), state, edit["code"], edit.pop("line"))
        res = svc.edit(row["id"], version, edit, created_by=cli_actor())
        out.print(
            f"方案「{row['name']}」已保存为版本 {res['version']}（{ACTIONS_ZH[edit['action']]}，基于版本 {version}，"
            f"用时 {res['compute_ms']:.0f} 毫秒）",
            markup=False,
            highlight=False,
        )
        _print_figures(res["rows"], res["removed"])
