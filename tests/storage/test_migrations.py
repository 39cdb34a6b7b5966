"""Migrations apply on an empty database, are idempotent, agree with the models, and leave an
`events` table that Rasa's own SQL tracker store accepts (and vice versa)."""
import asyncio
import contextlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url

from storage.db import dispose_engine, get_engine
from storage.migrate import alembic_config, upgrade
from storage.models import Event, metadata
from testing.synthetic import temporary_database

pytestmark = pytest.mark.postgres

PROJECT_TABLES = {"conversations", "triage_outcomes", "handoff_requests", "reviews",
                  "staff_users", "audit_log", "login_throttle", "projector_state", "follow_ups",
                  "outbox_messages"}
CONSOLE_EVENT_INDEXES = {("sender_id",), ("sender_id", "timestamp"), ("type_name", "timestamp")}


@contextlib.contextmanager
def empty_database(kind, tmp_path):
    if kind == "postgresql":
        with temporary_database("clinic_migration_test", migrate=False) as url:
            yield url
    else:
        url = f"sqlite:///{tmp_path / 'clinic.db'}"
        yield url
        dispose_engine(url)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def schema(url):
    inspector = inspect(get_engine(url))
    return {
        table: (
            sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),
            sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)),
        )
        for table in inspector.get_table_names()
    }


def event_indexes(url):
    return {tuple(i["column_names"]) for i in inspect(get_engine(url)).get_indexes("events")}


def rasa_tracker_store(url):
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return SQLTrackerStore(Domain.empty(), dialect="sqlite", db=parsed.database)
    return SQLTrackerStore(Domain.empty(), dialect="postgresql", host=parsed.host,
                           port=parsed.port, db=parsed.database, username=parsed.username)


def save_with_rasa(url, sender_id):
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    store = rasa_tracker_store(url)
    tracker = DialogueStateTracker.from_events(sender_id, [UserUttered("my back hurts")])
    asyncio.run(store.save(tracker))
    store.engine.dispose()


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_migrations_apply_on_an_empty_database_and_a_second_run_changes_nothing(kind, tmp_path):
    with empty_database(kind, tmp_path) as url:
        upgrade(url)
        first = schema(url)
        assert PROJECT_TABLES | {"events", "alembic_version"} <= set(first)
        assert CONSOLE_EVENT_INDEXES <= event_indexes(url)

        upgrade(url)
        assert schema(url) == first
        with get_engine(url).connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert versions == [(head_revision(),)]


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_rasa_writes_into_the_events_table_the_migration_made(kind, tmp_path):
    with empty_database(kind, tmp_path) as url:
        upgrade(url)
        save_with_rasa(url, "patient-1")
        with get_engine(url).connect() as connection:
            rows = connection.execute(select(Event.sender_id, Event.type_name)).all()
        assert ("patient-1", "user") in rows
        assert CONSOLE_EVENT_INDEXES <= event_indexes(url)


def test_migration_adds_the_console_indexes_when_rasa_made_the_events_table_first(tmp_path):
    with empty_database("postgresql", tmp_path) as url:
        save_with_rasa(url, "patient-early")
        assert ("sender_id", "timestamp") not in event_indexes(url)
        upgrade(url)
        assert CONSOLE_EVENT_INDEXES <= event_indexes(url)
        with get_engine(url).connect() as connection:
            assert connection.execute(select(Event.sender_id)).scalars().all() == ["patient-early"]


def test_models_and_migrations_describe_the_same_schema(pg_url):
    with get_engine(pg_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    # The tsvector column and its index exist only in the PostgreSQL migration, on purpose.
    unexpected = [d for d in differences if "search_vector" not in repr(d)]
    assert unexpected == []
