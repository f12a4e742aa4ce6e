"""What-if scenarios (issue 17): ``geo-service scenario create|list|show|delete|run|compare|batch``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ._common import DbOpt, cli_errors, console, open_store, out, plain

app = typer.Typer(help="情景分析：在现状图层上叠加的变更方案 / What-if scenarios.", no_args_is_help=True)

COMPARE_SUFFIXES = (".xlsx", ".geojson", ".html", ".json")


def _read_changes(path: Path) -> dict:
    from geo_service.core._errors import InputError

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no file {path}", f"找不到文件：{path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not JSON: {exc}", f"{path} 不是有效的 JSON（UTF-8）：{exc}") from None


def _brief(changes: dict) -> str:
    parts = []
    for layer, zh in (("facilities", "设施"), ("shelters", "避难场所")):
        for op, op_zh in (("add", "新增"), ("move", "迁移"), ("close", "关闭")):
            n = len((changes.get(layer) or {}).get(op) or [])
            if n:
                parts.append(f"{zh}{op_zh} {n}")
    if changes.get("developments"):
        hh = sum(int(d.get("households", 0)) for d in changes["developments"])
        parts.append(f"新建住宅 {len(changes['developments'])} 个（{hh:,} 户）")
    if changes.get("plan"):
        parts.append(f"社区划分方案 {changes['plan']}")
    if changes.get("norms"):
        parts.append(f"规范调整 {len(changes['norms'])} 项")
    return "；".join(parts) or "无变更"


@app.command("create")
def create_cmd(
    name: str = typer.Option(..., "--name", help="情景方案名称（唯一）"),
    changes: Path = typer.Option(..., "--changes", help="变更 JSON 文件（格式见 docs/scenarios.md）"),
    description: str | None = typer.Option(None, "--description", help="说明"),
    database_url: str | None = DbOpt,
):
    """Create a scenario from a JSON file of changes, checked against the current data (新建情景方案)."""
    from facilities.whatif.service import create_scenario

    with cli_errors():
        data = _read_changes(changes)
        store = open_store(database_url)
        row = create_scenario(store, name, data, description=description, created_by="cli")
        console.print(f"已创建情景方案「{row['name']}」（编号 {row['id']}）：{_brief(row['changes'])}")


@app.command("list")
def list_cmd(database_url: str | None = DbOpt):
    """List the stored scenarios (情景方案列表)."""
    with cli_errors():
        store = open_store(database_url)
        rows = store.list_scenarios()
        if not rows:
            out.print("没有情景方案")
        for r in rows:
            plain(f"{r['id']:>4}  {r['name']}  —  {_brief(r['changes'])}  （{r['created_by'] or ''}）")


@app.command("show")
def show_cmd(scenario: str = typer.Argument(..., help="情景方案编号或名称"), database_url: str | None = DbOpt):
    """Show one scenario with its changes as JSON (查看情景方案)."""
    with cli_errors():
        row = open_store(database_url).get_scenario(scenario)
        out.print(f"情景方案「{row['name']}」（编号 {row['id']}）：{_brief(row['changes'])}")
        if row.get("description"):
            plain(f"说明：{row['description']}")
        plain(json.dumps(row["changes"], ensure_ascii=False, indent=2))


@app.command("delete")
def delete_cmd(scenario: str = typer.Argument(..., help="情景方案编号或名称"), database_url: str | None = DbOpt):
    """Delete one scenario (删除情景方案); the layers are never touched."""
    with cli_errors():
        row = open_store(database_url).delete_scenario(scenario, actor="cli")
        console.print(f"已删除情景方案「{row['name']}」（编号 {row['id']}）")


@app.command("run")
def run_cmd(
    scenario: str = typer.Argument(..., help="情景方案编号或名称（baseline 为现状）"),
    analyses: str = typer.Option("coverage,audit,shelters", "--analyses", help="coverage、e2sfca、audit、shelters"),
    siting_category: str | None = typer.Option(None, "--siting-category", help="同时选址：设施类别"),
    k: int = typer.Option(3, "--k", help="选址个数"),
    database_url: str | None = DbOpt,
):
    """Run analyses on a scenario and print their headline figures (在情景方案上运行分析)."""
    from facilities.service import SitingParams
    from facilities.whatif.service import parse_analyses, result_of, siting

    with cli_errors():
        store = open_store(database_url)
        wanted = parse_analyses(analyses)
        res = result_of(store, scenario, wanted)
        s = res.summary()
        out.print(f"情景「{res.label}」：" + "；".join(f"{a} {h}" for a, h in res.how.items()))
        if "coverage" in s:
            plain(f"  常住人口 {s['coverage']['residents']:,} 人；步行覆盖率：")
            for c in s["coverage"]["categories"]:
                rate = "—" if c["walk_rate"] is None else f"{c['walk_rate'] * 100:.1f}%"
                plain(f"    {c['category_zh']}：{rate}（{c['covered_residents']:,} 人）")
        if "audit" in s:
            plain(f"  社区综合服务设施面积缺口：{s['audit'].get('service_floor_gap_m2')} m²")
        if "shelters" in s:
            plain(f"  未安置避难人数：{s['shelters']['unplaced_before']:,} 人")
        for n in res.notes:
            plain(f"  注：{n}")
        if siting_category:
            r = siting(store, scenario, SitingParams.from_input(siting_category, k))
            plain(f"  选址（{r['category_zh']}，{r['walk_m']:.0f} 米）：")
            for p in r["picks"]:
                plain(f"    {p['rank']}. 候选 {p['candidate_id']}：新增覆盖 {p['gain_residents']:,} 人")


@app.command("compare")
def compare_cmd(
    a: str = typer.Argument(..., help="方案甲：编号、名称或 baseline（现状）"),
    b: str = typer.Argument(..., help="方案乙：编号、名称或 baseline（现状）"),
    out_file: Path | None = typer.Option(None, "--out", help="输出：.xlsx、.geojson（人口单元变化）、.html（地图）"),
    layer: str = typer.Option("units", "--layer", help="GeoJSON 输出的图层：units、communities、shelters"),
    database_url: str | None = DbOpt,
):
    """Compare two scenarios (or one with the baseline): summary table, difference maps (情景方案比较)."""
    from facilities.whatif.report import LAYERS, layer_geojson, summary_rows, write_comparison_xlsx
    from facilities.whatif.service import current_comparison
    from geo_service.core._errors import InputError

    with cli_errors():
        if out_file is not None and out_file.suffix.lower() not in COMPARE_SUFFIXES:
            raise InputError(
                f"output must end in .xlsx, .geojson, .json or .html, got {out_file.name}",
                f"输出文件扩展名应为 .xlsx、.geojson 或 .html，收到 {out_file.name}",
            )
        if layer not in LAYERS:
            raise InputError(f"layer must be one of {LAYERS}", "图层应为 units、communities 或 shelters")
        store = open_store(database_url)
        _run, cmp_ = current_comparison(store, a, b)  # stored: the API and the workbench then read it
        s = cmp_.summary
        out.print(f"情景比较：{s['a']} → {s['b']}")
        for _, r in summary_rows(s).iloc[1:].iterrows():
            plain(f"  {r['item']}：{_fmt(r['a'])} → {_fmt(r['b'])}（变化 {_fmt(r['change'])}）")
        for c in s["categories"]:
            if c["newly_covered"] or c["newly_uncovered"]:
                plain(
                    f"    {c['category_zh']}：新增覆盖 {c['newly_covered']:,} 人，失去覆盖 {c['newly_uncovered']:,} 人"
                )
        for n in s.get("notes", []):
            plain(f"  注：{n}")
        if out_file is None:
            return
        out_file.parent.mkdir(parents=True, exist_ok=True)
        suffix = out_file.suffix.lower()
        if suffix == ".xlsx":
            write_comparison_xlsx(out_file, s, cmp_.layers())
        elif suffix in (".geojson", ".json"):
            out_file.write_bytes(layer_geojson(cmp_.layers()[layer], s, layer))
        else:
            from maps.scenarios import comparison_page

            out_file.write_text(comparison_page(store, s, cmp_.layers(), inline=True), encoding="utf-8")
        out.print(f"已写出：{out_file}")


def _fmt(v) -> str:
    if v is None or v == "" or v != v:
        return "—"
    return f"{v:,}" if isinstance(v, (int, float)) else str(v)


@app.command("batch")
def batch_cmd(
    scenarios: list[str] = typer.Argument(..., help="情景方案编号或名称（可多个）"),
    out_dir: Path | None = typer.Option(None, "--out", help="每个方案与现状比较的 XLSX 写入此目录"),
    analyses: str = typer.Option("coverage,audit,shelters", "--analyses", help="coverage、e2sfca、audit、shelters"),
    database_url: str | None = DbOpt,
):
    """Run several scenarios against the baseline, computed once (批量计算情景方案)."""
    from facilities.whatif.service import parse_analyses, run_batch

    with cli_errors():
        store = open_store(database_url)
        res = run_batch(store, scenarios, analyses=parse_analyses(analyses), out_dir=out_dir)
        out.print(
            f"批量计算 {len(res['scenarios'])} 个情景方案，用时 {res['seconds']:.1f} 秒"
            f"（现状 {res['baseline_seconds']:.1f} 秒）"
        )
        for it in res["scenarios"]:
            gap = it["service_gap_closed_m2"]
            plain(
                f"  {it['scenario']}：新增覆盖 {it['newly_covered']:,} 人次，失去覆盖 {it['newly_uncovered']:,} 人次；"
                f"面积缺口缩小 {_fmt(gap)} m²；未安置 {_fmt(it['unplaced_a'])} → {_fmt(it['unplaced_b'])} 人"
                + (f"；{it['xlsx']}" if it.get("xlsx") else "")
            )
