"""User commands: users, roles and bearer tokens of the write API (``geo-service user ...``)."""

from __future__ import annotations

import typer

from geo_service.core.auth import cli_actor

from ._common import DbOpt, cli_errors, console, open_store, out

app = typer.Typer(
    help="用户与令牌（写操作的权限）/ Users, roles and bearer tokens of the write API.", no_args_is_help=True
)
RoleOpt = typer.Option(..., "--role", help="planner（规划人员）| facilities（设施管理人员）| admin（管理员）")


@app.command("add")
def user_add(
    name: str = typer.Argument(..., help="User name (用户名)"), role: str = RoleOpt, database_url: str | None = DbOpt
):
    """Create a user with a role; prints its bearer token once (新建用户并生成令牌，令牌只显示一次)."""
    from geo_service.core.auth import ROLE_ZH, add_user

    with cli_errors():
        store = open_store(database_url)
        token = add_user(store, name, role)
    console.print(
        f"已创建用户 {name}（{ROLE_ZH[role]}）。令牌只显示这一次，请妥善保存：", markup=False, highlight=False
    )
    out.print(token, markup=False, highlight=False)


@app.command("token")
def user_token(name: str = typer.Argument(..., help="User name (用户名)"), database_url: str | None = DbOpt):
    """Issue a further token for a user, e.g. before revoking an old one (为用户增发令牌)."""
    from geo_service.core.auth import add_token

    with cli_errors():
        store = open_store(database_url)
        token = add_token(store, name)
    console.print(f"已为用户 {name} 生成新令牌（只显示这一次）：", markup=False, highlight=False)
    out.print(token, markup=False, highlight=False)


@app.command("revoke")
def user_revoke(
    name: str = typer.Argument(..., help="User name (用户名)"),
    token: str | None = typer.Option(
        None, "--token", help="Revoke only the token starting with this prefix (e.g. gs_AbCdEfG)"
    ),
    database_url: str | None = DbOpt,
):
    """Revoke a user (all tokens) or one token (吊销用户或其某个令牌)."""
    with cli_errors():
        store = open_store(database_url)
        n = store.revoke_user(name, token_prefix=token[:10] if token else None, actor=cli_actor())
    console.print(
        f"已吊销用户 {name} 的 {n} 个令牌" + ("" if token else "，该用户已停用"), markup=False, highlight=False
    )


@app.command("role")
def user_role(
    name: str = typer.Argument(...),
    role: str = typer.Argument(..., help="planner | facilities | admin"),
    database_url: str | None = DbOpt,
):
    """Change a user's role (修改用户角色)."""
    from geo_service.core.auth import ROLE_ZH, check_role

    with cli_errors():
        store = open_store(database_url)
        store.set_user_role(name, check_role(role), actor=cli_actor())
    console.print(f"用户 {name} 的角色已改为 {ROLE_ZH[role]}", markup=False, highlight=False)


@app.command("list")
def user_list(database_url: str | None = DbOpt):
    """List users, roles and active tokens (用户列表)."""
    from geo_service.core.auth import ROLE_ZH

    with cli_errors():
        store = open_store(database_url)
        rows = store.list_users()
    for u in rows:
        state = "已停用" if u["revoked_at"] else f"有效令牌 {u['active_tokens']} 个"
        last = u["last_used_at"].isoformat(timespec="seconds") if u.get("last_used_at") else "从未使用"
        out.print(
            f"{u['name']}\t{u['role']}（{ROLE_ZH.get(u['role'], u['role'])}）\t{state}\t最近使用：{last}",
            markup=False,
            highlight=False,
        )
