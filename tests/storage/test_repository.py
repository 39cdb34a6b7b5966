"""The action server's write API on the real PostgreSQL."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, exc, select

import storage.repository as repository_module
from storage.db import session_factory
from storage.models import Conversation, HandoffRequest, TriageOutcome
from storage.repository import InvalidRecord, Repository, StorageWriteError

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def outcome(**overrides):
    values = dict(conversation_id="patient-1", level="urgent", red_flags=["progressive_weakness"],
                  rules=["weakness.progressive"], protocol_version="2026.11.0",
                  plan=["see_gp_today"], reason="Leg weakness getting worse.",
                  findings={"present": ["leg_weakness"]}, channel="rest", created_at=NOW,
                  event_key="user@1764000000.100000")
    return values | overrides


def load(engine, model, **where):
    with session_factory(engine)() as session:
        statement = select(model).filter_by(**where)
        return session.execute(statement).scalars().all()


def test_outcome_is_stored_once_and_sets_the_conversation_level(engine, repository):
    repository.record_outcome(**outcome())
    repository.record_outcome(**outcome())      # a retry after a lost acknowledgement

    [row] = load(engine, TriageOutcome, conversation_id="patient-1")
    assert (row.level, row.red_flags, row.source) == ("urgent", ["progressive_weakness"],
                                                      "action_server")
    [conversation] = load(engine, Conversation, sender_id="patient-1")
    assert (conversation.max_level, conversation.latest_outcome_id) == ("urgent", row.id)


def test_the_most_urgent_outcome_sets_the_conversation_level(engine, repository):
    repository.record_outcome(**outcome(level="emergency", red_flags=["cauda_equina"],
                                        event_key="a"))
    repository.record_outcome(**outcome(level="routine", red_flags=[], event_key="b",
                                        created_at=NOW + timedelta(minutes=5)))
    [conversation] = load(engine, Conversation, sender_id="patient-1")
    assert conversation.max_level == "emergency"
    assert conversation.red_flags == ["cauda_equina"]
    assert conversation.last_activity_at == NOW + timedelta(minutes=5)


def test_handoff_is_stored_open_with_its_contact(engine, repository):
    handoff_id = repository.record_handoff(
        conversation_id="patient-2", contact_method="phone", contact_value=" 07700 900123 ",
        consented=True, level="urgent", channel="socketio", created_at=NOW)
    [row] = load(engine, HandoffRequest, id=handoff_id)
    assert (row.status, row.contact_value, row.consented) == ("open", "07700 900123", True)
    assert load(engine, Conversation, sender_id="patient-2")[0].channel == "socketio"


def test_the_latest_consent_wins_whatever_order_it_arrives_in(engine, repository):
    repository.record_consent(conversation_id="p", consented=True, channel="rest",
                              at=NOW + timedelta(seconds=30))
    repository.record_consent(conversation_id="p", consented=False, channel="rest", at=NOW)
    assert load(engine, Conversation, sender_id="p")[0].consent is True


@pytest.mark.parametrize("bad", [dict(level="catastrophic"),
                                 dict(created_at=datetime(2026, 1, 1))])
def test_an_invalid_outcome_raises_the_storage_error_the_caller_catches(repository, bad):
    with pytest.raises(StorageWriteError):
        repository.record_outcome(**outcome(**bad))


def test_an_unknown_contact_method_is_an_invalid_record(repository):
    with pytest.raises(InvalidRecord):
        repository.record_handoff(conversation_id="p", contact_method="pigeon", contact_value="x",
                                  consented=True, level=None, channel=None, created_at=NOW)


def test_a_transient_error_is_retried_and_the_write_lands(engine, repository, monkeypatch):
    real_lock = repository_module.lock_conversations
    calls = []

    def flaky_lock(session, first_seen):
        calls.append(1)
        if len(calls) == 1:
            raise exc.OperationalError("SELECT 1", {}, ConnectionResetError("server closed"))
        return real_lock(session, first_seen)

    monkeypatch.setattr(repository_module, "lock_conversations", flaky_lock)
    repository.record_outcome(**outcome())
    assert len(calls) == 2
    assert len(load(engine, TriageOutcome, conversation_id="patient-1")) == 1


def test_an_unreachable_database_raises_storage_write_error_after_retrying():
    engine = create_engine("postgresql+psycopg2://postgres@127.0.0.1:1/none", future=True)
    repository = Repository(engine, retry_delays=(0.01, 0.01))
    with pytest.raises(StorageWriteError):
        repository.record_consent(conversation_id="p", consented=True, channel=None, at=NOW)
