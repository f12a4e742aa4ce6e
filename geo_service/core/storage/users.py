"""Users and their API tokens (only token hashes are stored)."""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa

from .. import models
from .._errors import ConflictError, GeoServiceError, NotFoundError
from ._values import _inserted_id, utcnow
from .changes import ChangesRepository


class UsersRepository(ChangesRepository):
    """Users, roles and API tokens; every change is logged in its own transaction."""

    def add_user(self, name: str, role: str, token_hash: str, prefix: str, *, actor: str = "cli") -> dict:
        """Create a user with its first token (hash only); ConflictError if the name is taken."""
        now = utcnow()
        with self.transaction() as conn:
            if conn.execute(sa.select(models.users.c.id).where(models.users.c.name == name)).first() is not None:
                raise ConflictError(f"user {name!r} exists", f"用户 {name!r} 已存在", user=name)
            uid = _inserted_id(conn.execute(models.users.insert().values(name=name, role=role, created_at=now)))
            conn.execute(
                models.api_tokens.insert().values(user_id=uid, token_hash=token_hash, prefix=prefix, created_at=now)
            )
            self.record_change(conn, actor, "user_add", "user", name, {"role": role})
        return {"id": uid, "name": name, "role": role}

    def add_token(self, name: str, token_hash: str, prefix: str, *, actor: str = "cli") -> None:
        """A further token for an active user (the old ones stay valid until revoked)."""
        with self.transaction() as conn:
            user = self._active_user(conn, name)
            conn.execute(
                models.api_tokens.insert().values(
                    user_id=user["id"], token_hash=token_hash, prefix=prefix, created_at=utcnow()
                )
            )
            self.record_change(conn, actor, "token_add", "user", name, {"prefix": prefix})

    def set_user_role(self, name: str, role: str, *, actor: str = "cli") -> None:
        """Change an active user's role."""
        with self.transaction() as conn:
            user = self._active_user(conn, name)
            conn.execute(models.users.update().where(models.users.c.id == user["id"]).values(role=role))
            self.record_change(conn, actor, "user_role", "user", name, {"from": user["role"], "to": role})

    def revoke_user(self, name: str, *, token_prefix: str | None = None, actor: str = "cli") -> int:
        """Revoke a user (all tokens) or only its token starting with ``token_prefix``; return tokens revoked."""
        now = utcnow()
        with self.transaction() as conn:
            user = self._active_user(conn, name)
            tt = models.api_tokens
            stmt = tt.update().where(tt.c.user_id == user["id"], tt.c.revoked_at.is_(None))
            if token_prefix:
                stmt = stmt.where(tt.c.prefix == token_prefix)
            n = conn.execute(stmt.values(revoked_at=now)).rowcount
            if token_prefix and not n:
                raise NotFoundError(
                    f"user {name!r} has no active token {token_prefix!r}",
                    f"用户 {name!r} 没有有效令牌 {token_prefix!r}",
                )
            if not token_prefix:
                conn.execute(models.users.update().where(models.users.c.id == user["id"]).values(revoked_at=now))
            self.record_change(
                conn,
                actor,
                "token_revoke" if token_prefix else "user_revoke",
                "user",
                name,
                {"tokens": int(n), **({"prefix": token_prefix} if token_prefix else {})},
            )
        return int(n)

    def _active_user(self, conn, name: str) -> dict:
        u = models.users
        row = conn.execute(sa.select(u).where(u.c.name == name)).first()
        if row is None or row.revoked_at is not None:
            raise NotFoundError(f"no active user {name!r}", f"没有有效用户 {name!r}", user=name)
        return dict(row._mapping)

    def list_users(self) -> list[dict]:
        """All users (revoked ones too) with their number of active tokens and last use."""
        u, tt = models.users, models.api_tokens
        active = sa.func.sum(sa.case((tt.c.revoked_at.is_(None), 1), else_=0))
        stmt = (
            sa.select(
                u.c.id,
                u.c.name,
                u.c.role,
                u.c.created_at,
                u.c.revoked_at,
                active.label("active_tokens"),
                sa.func.max(tt.c.last_used_at).label("last_used_at"),
            )
            .select_from(u.outerjoin(tt, tt.c.user_id == u.c.id))
            .group_by(u.c.id)
            .order_by(u.c.id)
        )
        with self.read() as conn:
            return [{**dict(r._mapping), "active_tokens": int(r.active_tokens or 0)} for r in conn.execute(stmt)]

    def user_by_token_hash(self, token_hash: str) -> dict | None:
        """The active user holding this (active) token, or None; marks the token used (at most once a minute)."""
        u, tt = models.users, models.api_tokens
        stmt = (
            sa.select(u.c.id, u.c.name, u.c.role, tt.c.id.label("token_id"), tt.c.last_used_at)
            .select_from(tt.join(u, u.c.id == tt.c.user_id))
            .where(tt.c.token_hash == token_hash, tt.c.revoked_at.is_(None), u.c.revoked_at.is_(None))
        )
        with self.read() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        now = utcnow()
        last = row.last_used_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        if last is None or (now - last).total_seconds() > 60:
            try:
                with self.transaction() as conn:
                    conn.execute(tt.update().where(tt.c.id == row.token_id).values(last_used_at=now))
            except GeoServiceError:
                pass  # a busy database must not refuse an authenticated request over bookkeeping
        return {"id": int(row.id), "name": row.name, "role": row.role}
