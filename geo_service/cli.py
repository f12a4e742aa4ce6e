"""Command line: ``geo-service``.

Every command has ``--help``.  Long commands show a progress bar and end with
a one-line summary; errors print a Chinese message and exit non-zero.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .core._errors import GeoServiceError, ImportValidationError
from .core.auth import cli_actor
from .core.layers import LAYERS, importable_layers

app = typer.Typer(
    help="社区治理空间规划与设施服务 / Geospatial planning and facilities service for community governance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="数据库迁移 / Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console(stderr=True)
out = Console(soft_wrap=True)


def _store(database_url: str | None = None):
    from .core.storage import Store

    return Store(database_url)


def _plain(text: str, style: str | None = None) -> None:
    """Print user data verbatim: no markup, no highlighting, no wrapping inside lines."""
    console.print(text, markup=False, highlight=False, soft_wrap=True, style=style)


@contextmanager
def _errors():
    """Turn service errors into a Chinese message and exit code 1 (2 for usage)."""
    try:
        yield
    except ImportValidationError as exc:
        console.print("[red]导入失败，未写入任何数据。[/red]")
        _plain(exc.message_zh)
        _plain(exc.report.format_zh())
        raise typer.Exit(1)
    except GeoServiceError as exc:
        console.print("[red]错误：[/red]", end="")
        _plain(exc.message_zh)
        _plain(exc.message, style="dim")
        raise typer.Exit(1)


@contextmanager
def _progress(description: str, total: float | None = None):
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as p:
        task = p.add_task(description, total=total or 1.0)
        yield p, task


DbOpt = typer.Option(
    None, "--database-url", envvar="DATABASE_URL", help="数据库地址；默认使用数据目录下的 SpatiaLite 文件。"
)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="目标版本"), database_url: str | None = DbOpt):
    """Apply the schema migrations (创建或升级数据库结构)."""
    with _errors():
        store = _store(database_url)
        rev = store.upgrade(revision)
        out.print(f"数据库结构已升级到版本 {rev}（{store.health()['backend']}）")


@db_app.command("current")
def db_current(database_url: str | None = DbOpt):
    """Show the schema revision of the database (显示当前数据库结构版本)."""
    with _errors():
        store = _store(database_url)
        out.print(store.current_revision() or "（空数据库，请先执行 geo-service db upgrade）")


@app.command("layers")
def layers_cmd(database_url: str | None = DbOpt):
    """List the layers with their feature counts (列出图层及要素数)."""
    with _errors():
        store = _store(database_url)
        store.upgrade()
        for name, spec in LAYERS.items():
            out.print(f"{name:20s} {spec.label_zh:16s} {store.count(name):>10d}")


def _parse_map(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items or []:
        if "=" not in item:
            raise GeoServiceError(
                f"--map wants FIELD=COLUMN, got {item!r}", f"--map 的格式应为 字段=列名，收到 {item!r}"
            )
        k, v = item.split("=", 1)
        mapping[k.strip()] = v.strip()
    return mapping


@app.command("import")
def import_cmd(
    layer: str = typer.Argument(..., help=f"图层：{', '.join(importable_layers())}"),
    file: Path = typer.Argument(..., help="GeoJSON、GeoPackage、zip 压缩的 Shapefile、CSV 或 XLSX 文件"),
    crs: str | None = typer.Option(
        None, "--crs", help="源坐标系：EPSG:xxxx、CGCS2000、CGCS2000 高斯-克吕格分带、gcj02（高德/腾讯）、bd09（百度）"
    ),
    map_: list[str] = typer.Option([], "--map", help="列映射 字段=文件列名，可重复，如 --map residents=常住人口"),
    id_column: str | None = typer.Option(None, "--id-column", help="稳定编号列（默认 source_id/id/编号）"),
    lon: str | None = typer.Option(None, "--lon", help="CSV/XLSX 经度列"),
    lat: str | None = typer.Option(None, "--lat", help="CSV/XLSX 纬度列"),
    file_layer: str | None = typer.Option(None, "--layer", help="GeoPackage 图层或压缩包中的 Shapefile 名"),
    encoding: str | None = typer.Option(None, "--encoding", help="文字编码，如 gbk"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="跳过无效行，导入其余行"),
    repair: bool = typer.Option(False, "--repair", help="自动修复无效几何"),
    plan: str | None = typer.Option(None, "--plan", help="社区划分方案名称（仅 communities 图层）"),
    database_url: str | None = DbOpt,
):
    """Import a file into a layer, all or nothing (导入数据文件，全部成功或全部不写入)."""
    from .core.importer import ImportOptions, run_import

    with _errors():
        store = _store(database_url)
        store.upgrade()
        opts = ImportOptions(
            source_crs=crs,
            column_map=_parse_map(map_),
            id_column=id_column,
            lon_column=lon,
            lat_column=lat,
            file_layer=file_layer,
            encoding=encoding,
            skip_invalid=skip_invalid,
            repair=repair,
            plan=plan,
        )
        t0 = time.perf_counter()
        with _progress(f"导入 {layer}") as (p, task):
            res = run_import(
                store,
                layer,
                file,
                opts,
                actor=cli_actor(),
                progress=lambda done, total: p.update(task, completed=done / max(total, 1)),
            )
            p.update(task, completed=1.0)
        if res.skipped:
            _plain(res.report.format_zh())
        out.print(res.summary_zh() + f"，用时 {time.perf_counter() - t0:.1f} 秒")


@app.command("export")
def export_cmd(
    layer: str = typer.Argument(..., help="图层名"),
    fmt: str = typer.Option("geojson", "--format", "-f", help="geojson | gpkg | shp | csv | xlsx"),
    out_path: Path | None = typer.Option(None, "--out", "-o", help="输出文件（默认 <图层>.<格式>）"),
    crs: str = typer.Option("EPSG:4326", "--crs", help="输出坐标系，如 EPSG:4490（CGCS2000，正式成果用）"),
    plan: str | None = typer.Option(None, "--plan", help="社区划分方案（communities 图层）"),
    database_url: str | None = DbOpt,
):
    """Export a layer to a file (导出图层)."""
    from .core.exporter import export_layer

    with _errors():
        store = _store(database_url)
        store.upgrade()
        target = out_path or Path(f"{layer}.{'zip' if fmt == 'shp' else fmt}")
        path, n = export_layer(store, layer, fmt, target, crs=crs, plan=plan)
        out.print(f"已导出 {n} 个要素到 {path}（{fmt}，{crs}）")


@app.command("import-osm")
def import_osm_cmd(
    file: Path | None = typer.Argument(None, help=".osm、.osm.bz2 或 .osm.pbf 文件"),
    place: str | None = typer.Option(None, "--place", help="用地名在线下载（需要联网，使用 osmnx 地理编码）"),
    name: str | None = typer.Option(None, "--name", help="网络名称（默认取文件名）"),
    no_clip: bool = typer.Option(False, "--no-clip", help="不按数据范围裁剪"),
    all_components: bool = typer.Option(False, "--all-components", help="保留所有连通分量（默认只保留最大连通分量）"),
    database_url: str | None = DbOpt,
):
    """Build the walking network and OSM facilities from an extract (由 OSM 数据构建步行网络和设施)."""
    from .core.datasets import load_osm, store_osm

    with _errors():
        if (file is None) == (place is None):
            raise GeoServiceError(
                "give an OSM FILE or --place NAME", "请提供 OSM 文件，或用 --place 指定地名（二选一）"
            )
        store = _store(database_url)
        store.upgrade()
        t0 = time.perf_counter()
        with _progress("导入 OSM") as (p, task):
            cb = lambda stage, f: p.update(task, completed=f, description=stage)
            if place:
                from .core.osm import read_osm_place

                data = read_osm_place(place)
                summary = store_osm(store, data, name=name or place, progress=cb)
            else:
                summary = load_osm(
                    store,
                    file,
                    name=name,
                    clip_to_bounds=not no_clip,
                    largest_component=not all_components,
                    progress=cb,
                )
        out.print(
            summary.line_zh(f"OSM 导入完成（网络编号 {summary.network_id}）")
            + f"，用时 {time.perf_counter() - t0:.1f} 秒"
        )


@app.command("sample-city")
def sample_city_cmd(
    scale: float = typer.Option(
        1.0, "--scale", min=0.01, help="规模倍数：1 约 2,000 个居住单元、60 万人；500 约 100 万个单元"
    ),
    seed: int = typer.Option(0, "--seed", help="随机种子（相同参数生成相同城市）"),
    database_url: str | None = DbOpt,
):
    """Load the synthetic sample city centred on Deyang (写入合成示例城市，非真实数据)."""
    from .core.datasets import load_sample_city

    with _errors():
        store = _store(database_url)
        store.upgrade()
        t0 = time.perf_counter()
        with _progress("示例城市") as (p, task):
            summary = load_sample_city(
                store, scale=scale, seed=seed, progress=lambda stage, f: p.update(task, completed=f, description=stage)
            )
        out.print(summary.line_zh("示例城市（合成数据）已写入") + f"，用时 {time.perf_counter() - t0:.1f} 秒")


@app.command("serve")
def serve_cmd(
    host: str | None = typer.Option(None, "--host", help="监听地址（默认 127.0.0.1）"),
    port: int | None = typer.Option(None, "--port", help="端口（默认 8000）"),
    sample_city: bool = typer.Option(False, "--sample-city", help="数据库为空时先写入示例城市"),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        envvar="GEO_WORKERS",
        help="工作进程数（uvicorn；默认 1，生产环境设为 CPU 核数，如 2 核设 2）",
    ),
    database_url: str | None = DbOpt,
):
    """Run the web service (启动服务)."""
    import uvicorn

    from .app import create_app
    from .core.settings import get_settings

    settings = get_settings()
    with _errors():
        store = _store(database_url)
        store.upgrade()
        if sample_city and store.count("population_units") == 0:
            from .core.datasets import load_sample_city

            summary = load_sample_city(store)
            console.print(summary.line_zh("示例城市（合成数据）已写入"))
        application = create_app(store) if workers == 1 else None
    h, pt = host or settings.host, port or settings.port
    console.print(f"服务地址 http://{h}:{pt}/ （接口文档 /docs）")
    if workers > 1:
        # each worker process builds its own app (create_app() from the settings) on this database
        import inspect
        import os
        import socket

        from uvicorn.supervisors import Multiprocess

        os.environ["DATABASE_URL"] = store.url.render_as_string(hide_password=False)
        config = uvicorn.Config(
            "geo_service.app:create_app", factory=True, host=h, port=pt, workers=workers, log_level="info"
        )
        sock = config.bind_socket()
        # What uvicorn.run(workers=N) does, plus TCP_NODELAY on the shared socket (connections inherit it): uvicorn
        # binds it with proto 0, so asyncio leaves Nagle on for its connections, and an answer written in two parts
        # (headers, body) then waits for the client's delayed ACK, 40 ms on Linux (the one-process server has it off).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        kwargs = (
            {"target": uvicorn.Server(config).run} if "target" in inspect.signature(Multiprocess).parameters else {}
        )
        Multiprocess(config, sockets=[sock], **kwargs).run()
        return
    uvicorn.run(application, host=h, port=pt, log_level="info")


@app.command("map")
def map_cmd(
    name: str = typer.Argument(
        ...,
        help="地图：facilities（设施与避难场所）、coverage（生活圈覆盖）、plan（社区划分方案）、audit（设施与避难场所审计）",
    ),
    out_file: Path = typer.Option(..., "--out", help="输出的 HTML 文件（单文件，脚本和样式已内嵌，可离线打开）"),
    run: int | None = typer.Option(None, "--run", help="分析运行编号（默认最新一次）"),
    plan: str | None = typer.Option(
        None, "--plan", help="社区划分方案编号或名称（plan、audit 地图；默认已批准的方案）"
    ),
    server: str | None = typer.Option(
        None, "--server", help="大图层使用矢量瓦片时的服务地址，如 http://127.0.0.1:8000"
    ),
    database_url: str | None = DbOpt,
):
    """Export an interactive map as one HTML file (导出交互地图为单个 HTML 文件)."""
    from maps.registry import render_map

    from .core.settings import get_settings

    with _errors():
        store = _store(database_url)
        store.upgrade()
        settings = get_settings()
        base = (server or f"http://{settings.host}:{settings.port}").rstrip("/")
        options = {"run_id": run} if run is not None else {}
        if plan is not None:
            options["plan"] = plan
        page = render_map(name, store, inline=True, tiles_base=base, **options)
        out_file.write_text(page, encoding="utf-8")
        out.print(f"地图已导出：{out_file}（{len(page.encode()) / 1e6:.1f} MB）")


@app.command("info")
def info_cmd(database_url: str | None = DbOpt):
    """Show the database, its schema revision and the dataset metadata (显示数据库信息)."""
    with _errors():
        store = _store(database_url)
        store.upgrade()
        out.print(
            json.dumps(
                {
                    "health": store.health(),
                    "metadata": store.get_metadata(),
                    "networks": [
                        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in n.items()}
                        for n in store.list_networks()
                    ],
                },
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )


user_app = typer.Typer(
    help="用户与令牌（写操作的权限）/ Users, roles and bearer tokens of the write API.", no_args_is_help=True
)
app.add_typer(user_app, name="user")
RoleOpt = typer.Option(..., "--role", help="planner（规划人员）| facilities（设施管理人员）| admin（管理员）")


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="User name (用户名)"), role: str = RoleOpt, database_url: str | None = DbOpt
):
    """Create a user with a role; prints its bearer token once (新建用户并生成令牌，令牌只显示一次)."""
    from .core.auth import ROLE_ZH, add_user

    with _errors():
        store = _store(database_url)
        store.upgrade()
        token = add_user(store, name, role)
    console.print(
        f"已创建用户 {name}（{ROLE_ZH[role]}）。令牌只显示这一次，请妥善保存：", markup=False, highlight=False
    )
    out.print(token, markup=False, highlight=False)


@user_app.command("token")
def user_token(name: str = typer.Argument(..., help="User name (用户名)"), database_url: str | None = DbOpt):
    """Issue a further token for a user, e.g. before revoking an old one (为用户增发令牌)."""
    from .core.auth import add_token

    with _errors():
        store = _store(database_url)
        store.upgrade()
        token = add_token(store, name)
    console.print(f"已为用户 {name} 生成新令牌（只显示这一次）：", markup=False, highlight=False)
    out.print(token, markup=False, highlight=False)


@user_app.command("revoke")
def user_revoke(
    name: str = typer.Argument(..., help="User name (用户名)"),
    token: str | None = typer.Option(
        None, "--token", help="Revoke only the token starting with this prefix (e.g. gs_AbCdEfG)"
    ),
    database_url: str | None = DbOpt,
):
    """Revoke a user (all tokens) or one token (吊销用户或其某个令牌)."""
    with _errors():
        store = _store(database_url)
        store.upgrade()
        n = store.revoke_user(name, token_prefix=token[:10] if token else None, actor=cli_actor())
    console.print(
        f"已吊销用户 {name} 的 {n} 个令牌" + ("" if token else "，该用户已停用"), markup=False, highlight=False
    )


@user_app.command("role")
def user_role(
    name: str = typer.Argument(...),
    role: str = typer.Argument(..., help="planner | facilities | admin"),
    database_url: str | None = DbOpt,
):
    """Change a user's role (修改用户角色)."""
    from .core.auth import ROLE_ZH, check_role

    with _errors():
        store = _store(database_url)
        store.upgrade()
        store.set_user_role(name, check_role(role), actor=cli_actor())
    console.print(f"用户 {name} 的角色已改为 {ROLE_ZH[role]}", markup=False, highlight=False)


@user_app.command("list")
def user_list(database_url: str | None = DbOpt):
    """List users, roles and active tokens (用户列表)."""
    from .core.auth import ROLE_ZH

    with _errors():
        store = _store(database_url)
        store.upgrade()
        rows = store.list_users()
    for u in rows:
        state = "已停用" if u["revoked_at"] else f"有效令牌 {u['active_tokens']} 个"
        last = u["last_used_at"].isoformat(timespec="seconds") if u.get("last_used_at") else "从未使用"
        out.print(
            f"{u['name']}\t{u['role']}（{ROLE_ZH.get(u['role'], u['role'])}）\t{state}\t最近使用：{last}",
            markup=False,
            highlight=False,
        )


from boundaries.cli import register as _register_boundaries

_register_boundaries(app)

from facilities.cli import register as _register_facilities

_register_facilities(app)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
