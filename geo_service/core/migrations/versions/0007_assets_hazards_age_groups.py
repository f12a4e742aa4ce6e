"""idle assets, space candidates and hazards; age groups of units; handover of developments; facility functions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 05:00:00
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_AGE_COLUMNS = ("residents_0_3", "residents_3_6", "residents_6_12", "residents_80plus")


def _create_layer(table: str, geometry_type: str, *columns: sa.Column) -> None:
    """A layer table like the others: id, source_id (unique), the fields, timestamps, a geometry with an index."""
    op.create_geospatial_table(
        table,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        *columns,
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
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
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("source_id", name=op.f(f"uq_{table}_source_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_geospatial_index(
            f"idx_{table}_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )


def _drop_layer(table: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_geospatial_index(f"idx_{table}_geom", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table(table)


def upgrade() -> None:
    floor_level = sa.Column("floor_level", sa.BigInteger(), nullable=True)
    _create_layer(
        "idle_assets",
        "GEOMETRY",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("floor_area_m2", sa.Float(), nullable=False),
        floor_level,
        sa.Column("has_lift", sa.Boolean(), nullable=True),
        sa.Column("available_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("available_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("condition", sa.String(), nullable=True),
        sa.Column("terms", sa.String(), nullable=False),
        sa.Column("rent_yuan_per_m2_year", sa.Float(), nullable=True),
        sa.Column("price_yuan", sa.Float(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
    )
    _create_layer(
        "space_candidates",
        "GEOMETRY",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("floor_area_m2", sa.Float(), nullable=False),
        sa.Column("cost_yuan", sa.Float(), nullable=True),
        sa.Column("rent_yuan_per_m2_year", sa.Float(), nullable=True),
        sa.Column("floor_level", sa.BigInteger(), nullable=True),
        sa.Column("has_lift", sa.Boolean(), nullable=True),
        sa.Column("facility_source_id", sa.String(), nullable=True),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
    )
    _create_layer(
        "hazards",
        "GEOMETRY",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=True),
    )
    # plain ALTER TABLE on both back ends: a batch (copy-and-rename) of a SpatiaLite table breaks its geometry
    for name in _AGE_COLUMNS:
        op.add_column("population_units", sa.Column(name, sa.BigInteger(), nullable=True))
    op.add_column("facilities", sa.Column("functions", sa.String(), nullable=True))
    op.add_column("developments", sa.Column("handed_over_area_m2", sa.Float(), nullable=True))
    op.add_column("developments", sa.Column("handover_date", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ and PostgreSQL both drop a column in place
    for table, name in (
        ("developments", "handover_date"),
        ("developments", "handed_over_area_m2"),
        ("facilities", "functions"),
        *(("population_units", name) for name in reversed(_AGE_COLUMNS)),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
    _drop_layer("hazards")
    _drop_layer("space_candidates")
    _drop_layer("idle_assets")
