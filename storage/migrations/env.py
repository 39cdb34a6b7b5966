"""Alembic environment: the URL comes from storage.migrate (or the settings when run by alembic)."""
from alembic import context
from sqlalchemy import text

from storage.db import get_engine, is_postgresql
from storage.models import metadata

# Any constant works: it only keeps two processes from migrating the same database at once.
_PG_MIGRATION_LOCK = 4_200_417


def run_migrations_online() -> None:
    config = context.config
    url = config.attributes.get("database_url")
    if url is None:
        from clinic.settings import get_settings
        url = get_settings().database_url
    with get_engine(url).connect() as connection:
        if is_postgresql(connection):
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=metadata,
                              render_as_batch=connection.dialect.name == "sqlite")
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if is_postgresql(connection):
                connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": _PG_MIGRATION_LOCK})
                connection.commit()


run_migrations_online()
