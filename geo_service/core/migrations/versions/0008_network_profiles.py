"""walking profiles and directions: road names, steps and kerbs of network edges, node elevations

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 06:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_EDGE_COLUMNS = (("name", sa.String()), ("steps", sa.Boolean()), ("kerb", sa.String()))


def upgrade() -> None:
    # plain ALTER TABLE on both back ends: a batch (copy-and-rename) of a SpatiaLite table breaks its geometry
    for name, type_ in _EDGE_COLUMNS:
        op.add_column("network_edges", sa.Column(name, type_, nullable=True))
    op.add_column("network_nodes", sa.Column("elevation_m", sa.Float(), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ and PostgreSQL both drop a column in place
    op.execute("ALTER TABLE network_nodes DROP COLUMN elevation_m")
    for name, _ in reversed(_EDGE_COLUMNS):
        op.execute(f"ALTER TABLE network_edges DROP COLUMN {name}")
