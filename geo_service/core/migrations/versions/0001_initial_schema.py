"""initial schema: layers, plans, networks, metadata, import log

Revision ID: 0001
Revises:
Create Date: 2026-11-26 19:20:13.537799
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table(
        "admin_areas",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("parent_code", sa.String(), nullable=True),
        sa.Column("community_workers_available", sa.BigInteger(), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_areas")),
        sa.UniqueConstraint("source_id", name=op.f("uq_admin_areas_source_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("admin_areas", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_admin_areas_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )

    op.create_geospatial_table(
        "barriers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("barrier_type", sa.String(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_barriers")),
        sa.UniqueConstraint("source_id", name=op.f("uq_barriers_source_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("barriers", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_barriers_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )

    op.create_table(
        "dataset_metadata",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dataset_metadata")),
    )
    op.create_geospatial_table(
        "developments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("planned_households", sa.BigInteger(), nullable=False),
        sa.Column("required_facility_area_m2", sa.Float(), nullable=True),
        sa.Column("built_facility_area_m2", sa.Float(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_developments")),
        sa.UniqueConstraint("source_id", name=op.f("uq_developments_source_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("developments", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_developments_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )

    op.create_geospatial_table(
        "facilities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("floor_area_m2", sa.Float(), nullable=True),
        sa.Column("land_area_m2", sa.Float(), nullable=True),
        sa.Column("capacity", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("opening_hours", sa.String(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facilities")),
        sa.UniqueConstraint("source_id", name=op.f("uq_facilities_source_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_facilities_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )

    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("layer", sa.String(), nullable=False),
        sa.Column("source_name", sa.String(), nullable=True),
        sa.Column("source_crs", sa.String(), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "layer_revisions",
        sa.Column("layer", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("layer", name=op.f("pk_layer_revisions")),
    )
    op.create_table(
        "networks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("metric_epsg", sa.Integer(), nullable=True),
        sa.Column("node_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("edge_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=True),
        sa.Column("min_lat", sa.Float(), nullable=True),
        sa.Column("max_lon", sa.Float(), nullable=True),
        sa.Column("max_lat", sa.Float(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
        sa.UniqueConstraint("name", name=op.f("uq_networks_name")),
        sqlite_autoincrement=True,
    )
    op.create_geospatial_table(
        "plan_parcels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("land_use_code", sa.String(), nullable=False),
        sa.Column("planned_use", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_parcels")),
        sa.UniqueConstraint("source_id", name=op.f("uq_plan_parcels_source_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("plan_parcels", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_plan_parcels_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )

    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.String(), server_default="draft", nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("adopted_by", sa.String(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("name", name=op.f("uq_plans_name")),
        sqlite_autoincrement=True,
    )
    op.create_geospatial_table(
        "population_units",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("unit_type", sa.String(), nullable=True),
        sa.Column("residents", sa.BigInteger(), nullable=False),
        sa.Column("households", sa.BigInteger(), nullable=False),
        sa.Column("residents_60plus", sa.BigInteger(), nullable=True),
        sa.Column("residents_0_6", sa.BigInteger(), nullable=True),
        sa.Column("street_code", sa.String(), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_population_units")),
        sa.UniqueConstraint("source_id", name=op.f("uq_population_units_source_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("population_units", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_population_units_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )

    op.create_geospatial_table(
        "roads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("road_class", sa.String(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTILINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roads")),
        sa.UniqueConstraint("source_id", name=op.f("uq_roads_source_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("roads", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_roads_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )

    op.create_geospatial_table(
        "shelters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("shelter_class", sa.String(), nullable=False),
        sa.Column("effective_area_m2", sa.Float(), nullable=True),
        sa.Column("capacity_persons", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shelters")),
        sa.UniqueConstraint("source_id", name=op.f("uq_shelters_source_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("shelters", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_shelters_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )

    op.create_geospatial_table(
        "communities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("street_code", sa.String(), nullable=True),
        sa.Column("has_fixed_office", sa.Boolean(), nullable=True),
        sa.Column("community_workers", sa.BigInteger(), nullable=True),
        sa.Column("households", sa.BigInteger(), nullable=True),
        sa.Column("residents", sa.BigInteger(), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_communities_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communities")),
        sa.UniqueConstraint("plan_id", "source_id", name=op.f("uq_communities_plan_id_source_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_communities_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(batch_op.f("ix_communities_plan_id"), ["plan_id"], unique=False)

    op.create_geospatial_table(
        "network_edges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("u", sa.BigInteger(), nullable=False),
        sa.Column("v", sa.BigInteger(), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("road_class", sa.String(), nullable=True),
        sa.Column("osm_way_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_network_edges_network_id_networks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_edges")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("network_edges", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_network_edges_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(batch_op.f("ix_network_edges_network_id"), ["network_id"], unique=False)

    op.create_geospatial_table(
        "network_nodes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("node_idx", sa.BigInteger(), nullable=False),
        sa.Column("osm_id", sa.BigInteger(), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_network_nodes_network_id_networks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_nodes")),
        sa.UniqueConstraint("network_id", "node_idx", name=op.f("uq_network_nodes_network_id_node_idx")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("network_nodes", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_network_nodes_geom", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(batch_op.f("ix_network_nodes_network_id"), ["network_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("network_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_nodes_network_id"))
        batch_op.drop_geospatial_index("idx_network_nodes_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("network_nodes")
    with op.batch_alter_table("network_edges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_edges_network_id"))
        batch_op.drop_geospatial_index("idx_network_edges_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("network_edges")
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_communities_plan_id"))
        batch_op.drop_geospatial_index("idx_communities_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("communities")
    with op.batch_alter_table("shelters", schema=None) as batch_op:
        batch_op.drop_geospatial_index("idx_shelters_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("shelters")
    with op.batch_alter_table("roads", schema=None) as batch_op:
        batch_op.drop_geospatial_index("idx_roads_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("roads")
    with op.batch_alter_table("population_units", schema=None) as batch_op:
        batch_op.drop_geospatial_index("idx_population_units_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("population_units")
    op.drop_table("plans")
    with op.batch_alter_table("plan_parcels", schema=None) as batch_op:
        batch_op.drop_geospatial_index("idx_plan_parcels_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("plan_parcels")
    op.drop_table("networks")
    op.drop_table("layer_revisions")
    op.drop_table("imports")
    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.drop_geospatial_index("idx_facilities_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("facilities")
    with op.batch_alter_table("developments", schema=None) as batch_op:
        batch_op.drop_geospatial_index("idx_developments_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("developments")
    op.drop_table("dataset_metadata")
    with op.batch_alter_table("barriers", schema=None) as batch_op:
        batch_op.drop_geospatial_index("idx_barriers_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("barriers")
    with op.batch_alter_table("admin_areas", schema=None) as batch_op:
        batch_op.drop_geospatial_index("idx_admin_areas_geom", postgresql_using="gist", column_name="geom")

    op.drop_geospatial_table("admin_areas")
