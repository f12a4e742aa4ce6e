"""Service commands: run the web service, export a map page."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import DbOpt, cli_errors, console, open_store, out

app = typer.Typer()


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

    from geo_service.app import create_app
    from geo_service.core.settings import get_settings

    settings = get_settings()
    with cli_errors():
        store = open_store(database_url)
        if sample_city and store.count("population_units") == 0:
            from geo_service.core.datasets import load_sample_city

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
    from geo_service.core.settings import get_settings
    from maps.registry import render_map

    with cli_errors():
        store = open_store(database_url)
        settings = get_settings()
        base = (server or f"http://{settings.host}:{settings.port}").rstrip("/")
        options = {"run_id": run} if run is not None else {}
        if plan is not None:
            options["plan"] = plan
        page = render_map(name, store, inline=True, tiles_base=base, **options)
        out_file.write_text(page, encoding="utf-8")
        out.print(f"地图已导出：{out_file}（{len(page.encode()) / 1e6:.1f} MB）")
