"""Session-wide fixtures: the real bot (action server + Rasa + projector worker) on a fresh
PostgreSQL database."""
from __future__ import annotations

import uuid

import pytest

from testing.servers import MODEL, RABBITMQ_URL, base_env, start_bot
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
    # Every test patient comes from 127.0.0.1: the per-address limit is for a whole clinic's worth.
    env = base_env(CLINIC_DATABASE_URL=bot_database, CLINIC_EMERGENCY_NUMBER="999",
                   CLINIC_RABBITMQ_URL=RABBITMQ_URL, CLINIC_RATE_LIMIT_IP_PER_MINUTE="6000",
                   CLINIC_RATE_LIMIT_IP_BURST="1000")
    # As deployed: Rasa's event broker wakes the projector worker, which keeps the console current.
    running = start_bot(tmp_path_factory.mktemp("bot-logs"), env, with_projector=True)
    yield running
    running.stop()


@pytest.fixture
def sender() -> str:
    """A new conversation id for each test."""
    return f"test-{uuid.uuid4().hex[:12]}"
