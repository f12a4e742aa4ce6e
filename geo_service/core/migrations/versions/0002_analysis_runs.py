"""analysis runs and their feature outputs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 20:10:00
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analysis_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("status", sa.String(), server_default="done", nullable=False),
        sa.Column("params", sa.Text(), server_default="{}", nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=True),
        sa.Column("network_version", sa.String(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("data_revisions", sa.Text(), server_default="{}", nullable=False),
        sa.Column("summary", sa.Text(), server_default="{}", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_analysis_runs_network_id_networks"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_analysis_runs_plan_id_plans"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_runs")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("analysis_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_analysis_runs_kind"), ["kind"], unique=False)

    op.create_geospatial_table(
        "analysis_features",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("output", sa.String(), nullable=False),
        sa.Column("feature_key", sa.String(), nullable=True),
        sa.Column("properties", sa.Text(), server_default="{}", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="GEOMETRY",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["analysis_runs.id"], name=op.f("fk_analysis_features_run_id_analysis_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_features")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("analysis_features", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_analysis_features_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index("ix_analysis_features_run_id_output", ["run_id", "output"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("analysis_features", schema=None) as batch_op:
        batch_op.drop_index("ix_analysis_features_run_id_output")
        batch_op.drop_geospatial_index("idx_analysis_features_geom", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("analysis_features")
    with op.batch_alter_table("analysis_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_runs_kind"))
    op.drop_table("analysis_runs")
