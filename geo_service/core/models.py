"""Database tables (SQLAlchemy Core + GeoAlchemy2), built from the layer declarations.

One code path for SpatiaLite and PostGIS.  Every geometry column is in
EPSG:4326 and has a spatial index (R*Tree on SpatiaLite, GiST on PostGIS).
The schema is created and changed only by the Alembic migrations in
``geo_service/migrations``; :data:`metadata` is their reference.
"""

from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.types import TypeEngine

from .layers import LAYERS, LayerSpec

SRID = 4326

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

_KIND_TYPES: dict[str, type[TypeEngine] | TypeEngine] = {
    "str": sa.String,
    "int": sa.BigInteger,
    "float": sa.Float,
    "bool": sa.Boolean,
    "datetime": sa.DateTime(timezone=True),
}


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    ]


plans = sa.Table(
    "plans",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("status", sa.String, nullable=False, server_default="draft"),
    sa.Column("description", sa.String),
    sa.Column("adopted_at", sa.DateTime(timezone=True)),
    sa.Column("adopted_by", sa.String),
    *_timestamps(),
    sa.UniqueConstraint("name"),
    sqlite_autoincrement=True,
)

networks = sa.Table(
    "networks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("metric_epsg", sa.Integer),
    sa.Column("node_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("edge_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("min_lon", sa.Float),
    sa.Column("min_lat", sa.Float),
    sa.Column("max_lon", sa.Float),
    sa.Column("max_lat", sa.Float),
    *_timestamps(),
    sa.UniqueConstraint("name"),
    sqlite_autoincrement=True,
)

# Free key/value metadata of the dataset (e.g. "synthetic": "true" for the sample city).
dataset_metadata = sa.Table(
    "dataset_metadata",
    metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("value", sa.String, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
)

# One row per layer, bumped by every write: analyses record the revisions they saw.
layer_revisions = sa.Table(
    "layer_revisions",
    metadata,
    sa.Column("layer", sa.String, primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
)

# Every import, who ran it and what it did.
imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("layer", sa.String, nullable=False),
    sa.Column("source_name", sa.String),
    sa.Column("source_crs", sa.String),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("inserted", sa.Integer, nullable=False),
    sa.Column("updated", sa.Integer, nullable=False),
    sa.Column("skipped", sa.Integer, nullable=False),
    sa.Column("actor", sa.String),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sqlite_autoincrement=True,
)


# One row per analysis run (coverage, audit, ...): its parameters, the network and the
# layer revisions it saw, a JSON summary; its feature outputs are in analysis_features.
analysis_runs = sa.Table(
    "analysis_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String, nullable=False, index=True),
    sa.Column("status", sa.String, nullable=False, server_default="done"),
    sa.Column("params", sa.Text, nullable=False, server_default="{}"),
    sa.Column("network_id", sa.Integer, sa.ForeignKey("networks.id", ondelete="SET NULL")),
    sa.Column("network_version", sa.String),
    sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="SET NULL")),
    sa.Column("data_revisions", sa.Text, nullable=False, server_default="{}"),
    sa.Column("summary", sa.Text, nullable=False, server_default="{}"),
    sa.Column("error", sa.Text),
    sa.Column("created_by", sa.String),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sqlite_autoincrement=True,
)

# Feature outputs of analysis runs, one named output layer per run ("units", "gaps", ...).
analysis_features = sa.Table(
    "analysis_features",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("analysis_runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("output", sa.String, nullable=False),
    sa.Column("feature_key", sa.String),
    sa.Column("properties", sa.Text, nullable=False, server_default="{}"),
    sa.Column("geom", Geometry("GEOMETRY", srid=SRID, spatial_index=True), nullable=True),
    sa.Index("ix_analysis_features_run_id_output", "run_id", "output"),
    sqlite_autoincrement=True,
)


def _layer_table(spec: LayerSpec) -> sa.Table:
    network_layer = spec.name.startswith("network_")
    cols: list = [sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)]
    constraints: list = []
    if network_layer:
        cols.append(
            sa.Column(
                "network_id", sa.Integer, sa.ForeignKey("networks.id", ondelete="CASCADE"), nullable=False, index=True
            )
        )
    else:
        cols.append(sa.Column("source_id", sa.String, nullable=False))
    if spec.per_plan:
        cols.append(
            sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True)
        )
        constraints.append(sa.UniqueConstraint("plan_id", "source_id"))
    elif not network_layer:
        constraints.append(sa.UniqueConstraint("source_id"))
    for f in spec.fields:
        if f.name == "network_id":
            continue
        cols.append(sa.Column(f.name, _KIND_TYPES[f.kind], nullable=not f.required))
    if network_layer:
        key = "node_idx" if spec.name == "network_nodes" else None
        if key:
            constraints.append(sa.UniqueConstraint("network_id", "node_idx"))
    else:
        cols.extend(_timestamps())
    cols.append(sa.Column("geom", Geometry(spec.storage_geometry, srid=SRID, spatial_index=True), nullable=False))
    # ids are never reused after a delete (SQLite reuses rowids without AUTOINCREMENT)
    return sa.Table(spec.table, metadata, *cols, *constraints, sqlite_autoincrement=True)


LAYER_TABLES: dict[str, sa.Table] = {name: _layer_table(spec) for name, spec in LAYERS.items()}


# Versions of a community plan (boundaries/, Art. 3): the explicit unit -> community assignment
# of every version (JSON: communities and {unit source_id: community code}), what made it, and
# its adoption.  ``plans.version`` is the current version (the ETag of edits).
plan_versions = sa.Table(
    "plan_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("parent_version", sa.Integer),
    sa.Column("action", sa.String, nullable=False),
    sa.Column("params", sa.Text, nullable=False, server_default="{}"),
    sa.Column("assignment", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False, server_default="{}"),
    sa.Column("created_by", sa.String),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("adopted_at", sa.DateTime(timezone=True)),
    sa.Column("adopted_by", sa.String),
    sa.UniqueConstraint("plan_id", "version"),
    sqlite_autoincrement=True,
)


# Users of the write API (issue 7): a role each; bearer tokens are stored as SHA-256 hashes only.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("role", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("name"),
    sqlite_autoincrement=True,
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("prefix", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("token_hash"),
    sqlite_autoincrement=True,
)

# Every change to data or plans: who, when, what; written in the transaction of the change.
change_log = sa.Table(
    "change_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("role", sa.String),
    sa.Column("action", sa.String, nullable=False),
    sa.Column("target_type", sa.String, nullable=False),
    sa.Column("target_id", sa.String),
    sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
    sa.Index("ix_change_log_at", "at"),
    sqlite_autoincrement=True,
)

# Background jobs (long analyses): queued -> running -> done | failed.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False, server_default="queued"),
    sa.Column("params", sa.Text, nullable=False, server_default="{}"),
    sa.Column("created_by", sa.String),
    sa.Column("runner", sa.String),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("result", sa.Text),
    sa.Column("error", sa.Text),
    sqlite_autoincrement=True,
)
