"""Alembic environment: runs on the connection the caller passes in
(``config.attributes["connection"]``), so SpatiaLite loading and URL handling
stay in :mod:`geo_service.core._db`."""

from alembic import context
from geoalchemy2 import alembic_helpers

from geo_service.core import models

config = context.config
target_metadata = models.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from geo_service.core._db import create_engine
        from geo_service.core.settings import get_settings

        s = get_settings()
        engine = create_engine(config.get_main_option("sqlalchemy.url") or s.resolved_database_url)
        with engine.begin() as conn:
            _run(conn)
        engine.dispose()
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
