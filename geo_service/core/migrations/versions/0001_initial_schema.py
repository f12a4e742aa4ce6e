"""initial schema: layers, plans, networks, metadata, import log

Revision ID: 0001
Revises:
Create Date: 2026-11-26 19:20:13.537799
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# --- column and index helpers (each call builds new objects: a Column belongs to one table) ---


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False)


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
    )


def _updated_at() -> sa.Column:
    return sa.Column(
        "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
    )


def _geom(geometry_type: str = "GEOMETRY") -> sa.Column:
    """The ``geom`` column, SRID 4326, 2D; its spatial index is created separately (:func:`_create_geom_index`)."""
    return sa.Column(
        "geom",
        Geometry(
            geometry_type=geometry_type,
            srid=4326,
            dimension=2,
            spatial_index=False,
            from_text="ST_GeomFromEWKT",
            name="geometry",
            nullable=False,
        ),
        nullable=False,
    )


def _create_geom_index(table: str, *indexed: str) -> None:
    """The spatial index ``idx_<table>_geom``, then a plain index ``ix_<table>_<column>`` per column of ``indexed``."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_geospatial_index(
            f"idx_{table}_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        for column in indexed:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def _create_layer(
    table: str,
    geometry_type: str,
    *columns: sa.Column,
    foreign_keys: Sequence[sa.ForeignKeyConstraint] = (),
    unique: Sequence[str] = ("source_id",),
    indexed: Sequence[str] = (),
) -> None:
    """A spatial layer: ``id``, ``source_id``, ``columns``, ``created_at``, ``updated_at``, ``geom``, then its
    foreign keys, primary key and unique key (``unique``), and its spatial index (plus plain ``indexed`` ones)."""
    op.create_geospatial_table(
        table,
        _id(),
        sa.Column("source_id", sa.String(), nullable=False),
        *columns,
        _created_at(),
        _updated_at(),
        _geom(geometry_type),
        *foreign_keys,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(*unique, name=op.f(f"uq_{table}_{'_'.join(unique)}")),
        sqlite_autoincrement=True,
    )
    _create_geom_index(table, *indexed)


def _drop_layer(table: str, *indexed: str) -> None:
    """Undo :func:`_create_layer` / :func:`_create_geom_index`: plain indexes, spatial index, then the table."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in indexed:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
        batch_op.drop_geospatial_index(f"idx_{table}_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table(table)


# --- spatial layers ---


def _create_admin_areas() -> None:
    _create_layer(
        "admin_areas",
        "MULTIPOLYGON",
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("parent_code", sa.String(), nullable=True),
        sa.Column("community_workers_available", sa.BigInteger(), nullable=True),
    )


def _create_barriers() -> None:
    _create_layer(
        "barriers",
        "GEOMETRY",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("barrier_type", sa.String(), nullable=False),
    )


def _create_developments() -> None:
    _create_layer(
        "developments",
        "MULTIPOLYGON",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("planned_households", sa.BigInteger(), nullable=False),
        sa.Column("required_facility_area_m2", sa.Float(), nullable=True),
        sa.Column("built_facility_area_m2", sa.Float(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
    )


def _create_facilities() -> None:
    _create_layer(
        "facilities",
        "GEOMETRY",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("floor_area_m2", sa.Float(), nullable=True),
        sa.Column("land_area_m2", sa.Float(), nullable=True),
        sa.Column("capacity", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("opening_hours", sa.String(), nullable=True),
    )


def _create_plan_parcels() -> None:
    _create_layer(
        "plan_parcels",
        "MULTIPOLYGON",
        sa.Column("land_use_code", sa.String(), nullable=False),
        sa.Column("planned_use", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=True),
    )


def _create_population_units() -> None:
    _create_layer(
        "population_units",
        "MULTIPOLYGON",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("unit_type", sa.String(), nullable=True),
        sa.Column("residents", sa.BigInteger(), nullable=False),
        sa.Column("households", sa.BigInteger(), nullable=False),
        sa.Column("residents_60plus", sa.BigInteger(), nullable=True),
        sa.Column("residents_0_6", sa.BigInteger(), nullable=True),
        sa.Column("street_code", sa.String(), nullable=True),
    )


def _create_roads() -> None:
    _create_layer(
        "roads",
        "MULTILINESTRING",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("road_class", sa.String(), nullable=False),
    )


def _create_shelters() -> None:
    _create_layer(
        "shelters",
        "GEOMETRY",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("shelter_class", sa.String(), nullable=False),
        sa.Column("effective_area_m2", sa.Float(), nullable=True),
        sa.Column("capacity_persons", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
    )


def _create_communities() -> None:
    """Communities of a plan: a layer keyed by (plan_id, source_id), deleted with its plan."""
    _create_layer(
        "communities",
        "MULTIPOLYGON",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("street_code", sa.String(), nullable=True),
        sa.Column("has_fixed_office", sa.Boolean(), nullable=True),
        sa.Column("community_workers", sa.BigInteger(), nullable=True),
        sa.Column("households", sa.BigInteger(), nullable=True),
        sa.Column("residents", sa.BigInteger(), nullable=True),
        foreign_keys=[
            sa.ForeignKeyConstraint(
                ["plan_id"], ["plans.id"], name=op.f("fk_communities_plan_id_plans"), ondelete="CASCADE"
            ),
        ],
        unique=("plan_id", "source_id"),
        indexed=("plan_id",),
    )


# --- plain tables: metadata, import log, layer revisions, plans ---


def _create_dataset_metadata() -> None:
    op.create_table(
        "dataset_metadata",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        _updated_at(),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dataset_metadata")),
    )


def _create_imports() -> None:
    op.create_table(
        "imports",
        _id(),
        sa.Column("layer", sa.String(), nullable=False),
        sa.Column("source_name", sa.String(), nullable=True),
        sa.Column("source_crs", sa.String(), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
        sqlite_autoincrement=True,
    )


def _create_layer_revisions() -> None:
    op.create_table(
        "layer_revisions",
        sa.Column("layer", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False),
        _updated_at(),
        sa.PrimaryKeyConstraint("layer", name=op.f("pk_layer_revisions")),
    )


def _create_plans() -> None:
    op.create_table(
        "plans",
        _id(),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.String(), server_default="draft", nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("adopted_by", sa.String(), nullable=True),
        _created_at(),
        _updated_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("name", name=op.f("uq_plans_name")),
        sqlite_autoincrement=True,
    )


# --- routing networks ---


def _create_networks() -> None:
    op.create_table(
        "networks",
        _id(),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("metric_epsg", sa.Integer(), nullable=True),
        sa.Column("node_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("edge_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=True),
        sa.Column("min_lat", sa.Float(), nullable=True),
        sa.Column("max_lon", sa.Float(), nullable=True),
        sa.Column("max_lat", sa.Float(), nullable=True),
        _created_at(),
        _updated_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
        sa.UniqueConstraint("name", name=op.f("uq_networks_name")),
        sqlite_autoincrement=True,
    )


def _network_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["network_id"], ["networks.id"], name=op.f(f"fk_{table}_network_id_networks"), ondelete="CASCADE"
    )


def _create_network_edges() -> None:
    op.create_geospatial_table(
        "network_edges",
        _id(),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("u", sa.BigInteger(), nullable=False),
        sa.Column("v", sa.BigInteger(), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("road_class", sa.String(), nullable=True),
        sa.Column("osm_way_id", sa.BigInteger(), nullable=True),
        _geom("LINESTRING"),
        _network_fk("network_edges"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_edges")),
        sqlite_autoincrement=True,
    )
    _create_geom_index("network_edges", "network_id")


def _create_network_nodes() -> None:
    op.create_geospatial_table(
        "network_nodes",
        _id(),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("node_idx", sa.BigInteger(), nullable=False),
        sa.Column("osm_id", sa.BigInteger(), nullable=True),
        _geom("POINT"),
        _network_fk("network_nodes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_nodes")),
        sa.UniqueConstraint("network_id", "node_idx", name=op.f("uq_network_nodes_network_id_node_idx")),
        sqlite_autoincrement=True,
    )
    _create_geom_index("network_nodes", "network_id")


# --- migration ---


def upgrade() -> None:
    # tables in alphabetical order, then those with foreign keys (the order of the autogenerated original)
    _create_admin_areas()
    _create_barriers()
    _create_dataset_metadata()
    _create_developments()
    _create_facilities()
    _create_imports()
    _create_layer_revisions()
    _create_networks()
    _create_plan_parcels()
    _create_plans()
    _create_population_units()
    _create_roads()
    _create_shelters()
    _create_communities()
    _create_network_edges()
    _create_network_nodes()


def downgrade() -> None:
    # the reverse of upgrade()
    _drop_layer("network_nodes", "network_id")
    _drop_layer("network_edges", "network_id")
    _drop_layer("communities", "plan_id")
    _drop_layer("shelters")
    _drop_layer("roads")
    _drop_layer("population_units")
    op.drop_table("plans")
    _drop_layer("plan_parcels")
    op.drop_table("networks")
    op.drop_table("layer_revisions")
    op.drop_table("imports")
    _drop_layer("facilities")
    _drop_layer("developments")
    op.drop_table("dataset_metadata")
    _drop_layer("barriers")
    _drop_layer("admin_areas")
