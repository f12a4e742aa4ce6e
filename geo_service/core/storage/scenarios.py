"""What-if scenarios (issue 17): named change sets over the current layers, stored as JSON.

The table is declared here on the shared :data:`geo_service.core.models.metadata` (migration 0009 creates it);
the layers themselves are never touched by a scenario. Validation of the changes against the data is the domain's
(:mod:`facilities.whatif`); this repository only keeps rows, each write in one transaction with its change-log row.
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from .. import models
from .._errors import ConflictError, InputError, NotFoundError
from ..jsonvalues import dumps
from ._values import _inserted_id, utcnow
from .changes import ChangesRepository

scenarios_table = sa.Table(
    "scenarios",
    models.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String, nullable=False, unique=True),
    sa.Column("description", sa.Text),
    sa.Column("changes", sa.Text, nullable=False, server_default="{}"),
    sa.Column("created_by", sa.String),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sqlite_autoincrement=True,
)

MAX_NAME = 100


def _is_id(key: str) -> bool:
    """An id is ASCII digits within the INTEGER column; anything else is a name."""
    return key.isascii() and key.isdigit() and len(key) <= 10 and int(key) < 2**31


def _clean_name(name) -> str:
    text = str(name or "").strip()
    if not text:
        raise InputError("a scenario needs a name", "情景方案须有名称")
    if len(text) > MAX_NAME:
        raise InputError(f"a scenario name has at most {MAX_NAME} characters", f"情景方案名称最多 {MAX_NAME} 个字符")
    if _is_id(text) or text.lower() == "baseline" or text == "现状":
        raise InputError(
            f"{text!r} cannot name a scenario (digits only, 'baseline' and '现状' are reserved)",
            f"「{text}」不能用作情景方案名称（纯数字、baseline、现状为保留字）",
            name=text,
        )
    return text


class ScenariosRepository(ChangesRepository):
    """Rows of the ``scenarios`` table: ``id``, ``name`` (unique), ``description``, ``changes`` (JSON),
    ``created_by``, ``created_at``, ``updated_at``."""

    def _scenario_cond(self, scenario: int | str):
        t = scenarios_table
        key = str(scenario).strip()
        return t.c.id == int(key) if _is_id(key) else t.c.name == key

    def get_scenario(self, scenario: int | str) -> dict:
        """One scenario by id or name, ``changes`` parsed; :class:`NotFoundError` when absent."""
        with self.read() as conn:
            row = conn.execute(sa.select(scenarios_table).where(self._scenario_cond(scenario))).first()
        if row is None:
            raise NotFoundError(
                f"no scenario {scenario!r}", f"没有名为或编号为「{scenario}」的情景方案", scenario=str(scenario)
            )
        return _scenario_row(row)

    def list_scenarios(self) -> list[dict]:
        """Every scenario, oldest first, ``changes`` parsed."""
        with self.read() as conn:
            rows = conn.execute(sa.select(scenarios_table).order_by(scenarios_table.c.id)).all()
        return [_scenario_row(r) for r in rows]

    def create_scenario(
        self, name: str, changes: dict, *, description: str | None = None, created_by: str | None = None
    ) -> int:
        """Store a new scenario (its changes already validated) and its change-log row; return its id.

        A name already taken raises :class:`ConflictError` (HTTP 409); nothing is written then.
        """
        name = _clean_name(name)
        now = utcnow()
        with self.transaction() as conn:
            self._name_free(conn, name)
            sid = _inserted_id(
                conn.execute(
                    scenarios_table.insert().values(
                        name=name,
                        description=description,
                        changes=dumps(changes),
                        created_by=created_by,
                        created_at=now,
                        updated_at=now,
                    )
                )
            )
            self.record_change(conn, created_by, "scenario_create", "scenario", sid, {"name": name})
        return sid

    def update_scenario(
        self,
        scenario: int | str,
        *,
        name: str | None = None,
        description: str | None = None,
        changes: dict | None = None,
        actor: str | None = None,
    ) -> dict:
        """Change a scenario's name, description or changes (those given), in one transaction; return it."""
        current = self.get_scenario(scenario)
        values: dict = {"updated_at": utcnow()}
        if name is not None:
            values["name"] = _clean_name(name)
        if description is not None:
            values["description"] = description
        if changes is not None:
            values["changes"] = dumps(changes)
        with self.transaction() as conn:
            if values.get("name", current["name"]) != current["name"]:
                self._name_free(conn, values["name"])
            conn.execute(scenarios_table.update().where(scenarios_table.c.id == current["id"]).values(**values))
            detail = {k: v for k, v in values.items() if k in ("name", "description")}
            self.record_change(conn, actor, "scenario_update", "scenario", current["id"], detail)
        return self.get_scenario(current["id"])

    def delete_scenario(self, scenario: int | str, *, actor: str | None = None) -> dict:
        """Delete one scenario (by id or name) with its change-log row; return the deleted row."""
        current = self.get_scenario(scenario)
        with self.transaction() as conn:
            conn.execute(scenarios_table.delete().where(scenarios_table.c.id == current["id"]))
            self.record_change(conn, actor, "scenario_delete", "scenario", current["id"], {"name": current["name"]})
        return current

    def _name_free(self, conn: sa.Connection, name: str) -> None:
        t = scenarios_table
        if conn.execute(sa.select(t.c.id).where(t.c.name == name)).first() is not None:
            raise ConflictError(f"a scenario named {name!r} exists", f"已有名为「{name}」的情景方案", name=name)


def _scenario_row(row) -> dict:
    out = dict(row._mapping)
    out["changes"] = json.loads(out.get("changes") or "{}")
    return out
