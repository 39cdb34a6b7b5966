"""Storage fixtures: one fresh PostgreSQL database for the session, emptied before each test."""
import pytest

from storage.db import get_engine
from storage.repository import Repository
from testing.synthetic import empty_all_tables, temporary_database


@pytest.fixture(scope="session")
def pg_url():
    with temporary_database("clinic_storage_test") as url:
        yield url


@pytest.fixture
def engine(pg_url):
    engine = get_engine(pg_url)
    empty_all_tables(engine)
    return engine


@pytest.fixture
def repository(engine):
    return Repository(engine, retry_delays=(0.01, 0.01))
