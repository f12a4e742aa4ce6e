"""unit entrances: gates of residential compounds, the walking distance of a unit starts at its nearest one

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 20:50:00
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table(
        "unit_entrances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("unit_source_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_entrances")),
        sa.UniqueConstraint("source_id", name=op.f("uq_unit_entrances_source_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("unit_entrances", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_unit_entrances_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )


def downgrade() -> None:
    with op.batch_alter_table("unit_entrances", schema=None) as batch_op:
        batch_op.drop_geospatial_index("idx_unit_entrances_geom", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("unit_entrances")
