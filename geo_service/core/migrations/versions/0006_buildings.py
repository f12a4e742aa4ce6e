"""buildings and residential areas: footprints with floors, height and use; compounds and residential land

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:00:00
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _create_layer(table: str, *columns: sa.Column) -> None:
    """A layer table like the others: id, source_id (unique), the fields, timestamps, a MULTIPOLYGON with an index."""
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
                geometry_type="MULTIPOLYGON",
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
    _create_layer(
        "buildings",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("floors", sa.BigInteger(), nullable=True),
        sa.Column("height_m", sa.Float(), nullable=True),
        sa.Column("use", sa.String(), nullable=False),
        sa.Column("dwellings", sa.BigInteger(), nullable=True),
        sa.Column("households", sa.BigInteger(), nullable=True),
        sa.Column("compound_id", sa.String(), nullable=True),
    )
    _create_layer(
        "residential_areas",
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("households", sa.BigInteger(), nullable=True),
        sa.Column("residents", sa.BigInteger(), nullable=True),
    )


def downgrade() -> None:
    _drop_layer("residential_areas")
    _drop_layer("buildings")
