"""Users, roles and bearer tokens of the write API.

Reading (maps, the resident page, ``/nearest``, layers, OGC collections,
tiles, analysis results) is open to anyone.  Everything that changes data or
plans, or starts a recomputation, needs a bearer token of a user whose role
allows it:

========== ===============================================================
role       may
========== ===============================================================
planner    import and edit planning layers (communities, population units,
           streets, parcels, roads, barriers, entrances, developments);
           delineate, edit, copy and adopt boundary plans; recompute
facilities import and edit facilities, shelters and developments; recompute
admin      everything, and read the change log
========== ===============================================================

Tokens are ``gs_`` + 43 random URL-safe characters (256 bits).  Only their
SHA-256 hash is stored (a fast hash is enough for random tokens of this
length: nothing can be guessed from it), with the first 10 characters kept
as a visible prefix to name a token when revoking it.
"""

from __future__ import annotations

import getpass
import hashlib
import secrets
from dataclasses import dataclass

from ._errors import GeoServiceError, InputError

ROLES = ("planner", "facilities", "admin")
ROLE_ZH = {"planner": "规划人员", "facilities": "设施管理人员", "admin": "管理员"}
TOKEN_PREFIX = "gs_"
PREFIX_CHARS = 10

# Which roles may write each layer (imports and single-feature edits); admin may write all.
LAYER_WRITERS: dict[str, tuple[str, ...]] = {
    "facilities": ("facilities",),
    "shelters": ("facilities",),
    "developments": ("facilities", "planner"),
    "admin_areas": ("planner",),
    "population_units": ("planner",),
    "communities": ("planner",),
    "plan_parcels": ("planner",),
    "roads": ("planner",),
    "barriers": ("planner",),
    "unit_entrances": ("planner",),
    "buildings": ("planner", "facilities"),
    "residential_areas": ("planner", "facilities"),
    "idle_assets": ("facilities", "planner"),  # Art. 18 ¶3: agencies' idle space offered to communities
    "space_candidates": ("facilities", "planner"),  # space to buy, lease, swap or extend
    "hazards": ("facilities", "planner"),  # Art. 15: hazard zones (emergency management data)
}

# Named permissions of the other write endpoints.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "plan_edit": ("planner",),  # delineate, edit, copy
    "plan_adopt": ("planner",),
    "recompute": ("planner", "facilities"),  # stored runs, background jobs, siting
    "read_changes": (),  # admin only
}


class AuthError(GeoServiceError):
    """No usable credentials (HTTP 401)."""

    http_status = 401


class ForbiddenError(GeoServiceError):
    """Credentials fine, role not allowed (HTTP 403)."""

    http_status = 403


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a user name and a role."""

    name: str
    role: str

    @property
    def label(self) -> str:
        return actor_label(self.name, self.role)


def actor_label(name: str, role: str | None = None) -> str:
    """``"name (role)"``, the form written to the change log's actor and role columns."""
    return f"{name} ({role})" if role else name


def cli_actor() -> str:
    """The actor of a command-line change: the operating-system user."""
    try:
        user = getpass.getuser()
    except Exception:  # no user database entry (containers)
        user = "unknown"
    return actor_label(f"cli:{user}", "admin")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(
            f"unknown role {role!r}: use one of {', '.join(ROLES)}",
            f"未知角色 {role!r}：可用角色为 {', '.join(f'{r}（{ROLE_ZH[r]}）' for r in ROLES)}",
        )
    return role


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100 or any(ord(c) < 32 for c in name) or name.startswith("cli:"):
        raise InputError(
            "user names are 1-100 printable characters and do not start with 'cli:'",
            "用户名须为 1–100 个可打印字符，且不能以 cli: 开头",
        )
    return name


def add_user(store, name: str, role: str) -> str:
    """Create a user; return its token (shown once, stored only as a hash)."""
    token = new_token()
    store.add_user(check_name(name), check_role(role), hash_token(token), token[:PREFIX_CHARS], actor=cli_actor())
    return token


def add_token(store, name: str) -> str:
    token = new_token()
    store.add_token(name, hash_token(token), token[:PREFIX_CHARS], actor=cli_actor())
    return token


def allowed_roles(permission: str | None = None, *, layer: str | None = None) -> tuple[str, ...]:
    """Roles allowed a named permission or writing a layer (admin always)."""
    if layer is not None:
        roles = LAYER_WRITERS.get(layer, ())
    else:
        assert permission is not None, "allowed_roles() needs a permission or a layer"
        roles = PERMISSIONS[permission]
    return (*roles, "admin")


def authenticate(store, authorization: str | None) -> Principal:
    """The principal of an ``Authorization: Bearer <token>`` header, or :class:`AuthError`."""
    if not authorization:
        raise AuthError(
            "this request changes data: it needs an Authorization: Bearer <token> header",
            "此操作会修改数据，须登录：请在请求头 Authorization 中提供 Bearer 令牌",
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError(
            "the Authorization header must be 'Bearer <token>'", "Authorization 请求头格式应为 Bearer <令牌>"
        )
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise AuthError("invalid or revoked token", "令牌无效或已被吊销")
    user = store.user_by_token_hash(hash_token(token))
    if user is None:
        raise AuthError("invalid or revoked token", "令牌无效或已被吊销")
    return Principal(user["name"], user["role"])


def authorize(principal: Principal, roles: tuple[str, ...], what_zh: str = "此操作") -> Principal:
    if principal.role not in roles:
        raise ForbiddenError(
            f"role {principal.role!r} may not do this; allowed: {', '.join(roles)}",
            f"角色「{ROLE_ZH.get(principal.role, principal.role)}」无权{what_zh}；"
            f"允许的角色：{'、'.join(ROLE_ZH.get(r, r) for r in roles)}",
            role=principal.role,
            allowed_roles=list(roles),
        )
    return principal
