"""Session-wide fixtures: the real bot (action server + Rasa) on a fresh PostgreSQL database."""
from __future__ import annotations

import uuid

import pytest

from testing.servers import MODEL, base_env, start_bot
from testing.synthetic import temporary_database


@pytest.fixture(scope="session")
def bot_database():
    with temporary_database("clinic_e2e") as url:
        yield url


@pytest.fixture(scope="session")
def bot(bot_database, tmp_path_factory):
    """One running bot for the whole test session (Rasa loads in ~20 s and holds ~1.3 GB)."""
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train` (make test does it)")
    env = base_env(CLINIC_DATABASE_URL=bot_database, CLINIC_EMERGENCY_NUMBER="999")
    running = start_bot(tmp_path_factory.mktemp("bot-logs"), env)
    yield running
    running.stop()


@pytest.fixture
def sender() -> str:
    """A new conversation id for each test."""
    return f"test-{uuid.uuid4().hex[:12]}"
