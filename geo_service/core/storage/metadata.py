"""Dataset metadata: small JSON values by key (the dataset's name, source, licence...)."""

from __future__ import annotations

import json

import sqlalchemy as sa

from .. import models
from ._base import StoreBase
from ._values import utcnow


class MetadataRepository(StoreBase):
    """Key -> JSON value metadata of the stored dataset."""

    def set_metadata(self, values: dict, conn: sa.Connection | None = None) -> None:
        """Set (replace) the given keys; passing ``conn`` joins the caller's transaction."""
        if conn is None:
            with self.transaction() as c:
                return self.set_metadata(values, c)
        t = models.dataset_metadata
        for key, value in values.items():
            conn.execute(t.delete().where(t.c.key == key))
            conn.execute(t.insert().values(key=key, value=json.dumps(value, ensure_ascii=False), updated_at=utcnow()))

    def get_metadata(self) -> dict:
        """All metadata, key -> parsed value."""
        t = models.dataset_metadata
        with self.read() as conn:
            return {r.key: json.loads(r.value) for r in conn.execute(sa.select(t.c.key, t.c.value))}
