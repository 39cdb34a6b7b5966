"""Check-ins in the database (storage/followups.py) on the real PostgreSQL: scheduled with their
due date, claimed once when due, the number kept only until it is no longer needed."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from storage import followups
from storage.db import session_factory
from storage.models import FollowUp
from storage.repository import InvalidRecord

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def follow_up(**overrides):
    values = dict(conversation_id="patient-1", channel="socketio", contact_method="sms",
                  contact_value="+447911123456", presentation="low_back_pain",
                  presentations=["low_back_pain"], level="self_care", after_days=14, created_at=NOW)
    return values | overrides


def all_rows(engine):
    with session_factory(engine)() as session:
        return session.execute(select(FollowUp).order_by(FollowUp.id)).scalars().all()


def test_a_check_in_is_stored_scheduled_and_due_after_its_wait(engine, repository):
    follow_up_id = repository.record_follow_up(**follow_up())
    [row] = all_rows(engine)
    assert row.id == follow_up_id
    assert (row.status, row.contact_value, row.due_at) == ("scheduled", "+447911123456", NOW + timedelta(days=14))


def test_a_new_request_replaces_the_one_still_scheduled_and_drops_its_number(engine, repository):
    repository.record_follow_up(**follow_up())
    repository.record_follow_up(**follow_up(contact_method="chat", contact_value="",
                                            created_at=NOW + timedelta(minutes=3)))
    old, new = all_rows(engine)
    assert (old.status, old.contact_value, old.updated_by) == ("cancelled", "", followups.REPLACED)
    assert (new.status, new.contact_method) == ("scheduled", "chat")


@pytest.mark.parametrize("bad", [dict(contact_method="email"), dict(contact_value="07911 123456"),
                                 dict(level="sometime"), dict(after_days=0)])
def test_a_malformed_check_in_is_refused(repository, bad):
    with pytest.raises(InvalidRecord):
        repository.record_follow_up(**follow_up(**bad))


def test_only_due_check_ins_are_claimed_and_a_second_sender_skips_a_locked_one(engine, repository):
    repository.record_follow_up(**follow_up(conversation_id="due-1"))
    repository.record_follow_up(**follow_up(conversation_id="due-2", created_at=NOW + timedelta(hours=1)))
    repository.record_follow_up(**follow_up(conversation_id="later", after_days=21))
    at = NOW + timedelta(days=15)
    sessions = session_factory(engine)
    with sessions() as first, first.begin(), sessions() as second, second.begin():
        claimed = followups.claim_due(first, at)
        assert claimed.conversation_id == "due-1"
        assert followups.claim_due(second, at).conversation_id == "due-2"   # not the locked one
        assert followups.claim_due(second, at, skip={claimed.id + 1}) is None
    with sessions() as session:
        assert followups.count_due(session, at) == 2
        assert followups.claim_due(session, NOW + timedelta(days=13)) is None


def test_sent_clears_the_number_and_failures_are_retried_then_given_up(engine, repository):
    repository.record_follow_up(**follow_up(conversation_id="ok"))
    repository.record_follow_up(**follow_up(conversation_id="broken"))
    at = NOW + timedelta(days=14)
    with session_factory(engine)() as session, session.begin():
        sent, broken = session.execute(select(FollowUp).order_by(FollowUp.id)).scalars().all()
        followups.mark_sent(sent, at)
        for _ in range(followups.MAX_ATTEMPTS):
            assert broken.status == "scheduled" and broken.contact_value
            followups.mark_failed(broken, TimeoutError("+447911123456 did not answer"), at)
    sent, broken = all_rows(engine)
    assert (sent.status, sent.contact_value, sent.sent_at, sent.attempts) == ("sent", "", at, 1)
    assert (broken.status, broken.contact_value, broken.last_error) == ("failed", "", "TimeoutError")


def test_staff_cancel_only_a_scheduled_check_in(engine, repository):
    repository.record_follow_up(**follow_up())
    with session_factory(engine)() as session, session.begin():
        row = session.execute(select(FollowUp)).scalar_one()
        assert followups.cancel(row, "dr@clinic.example", NOW)
        assert not followups.cancel(row, "dr@clinic.example", NOW)
    [row] = all_rows(engine)
    assert (row.status, row.contact_value, row.updated_by) == ("cancelled", "", "dr@clinic.example")


@pytest.mark.parametrize("text, expected", [
    ("07911 123456", "+447911123456"), ("yes, it's +44 7911 123456 thanks", "+447911123456"),
    ("0044 7911 123456", "+447911123456"), ("+1 415 555 2671", "+14155552671"),
    ("020 7946 0018", None),          # a landline gets no texts
    ("12345", None), ("in 3 weeks", None), ("", None),
])
def test_a_mobile_number_is_found_in_what_the_patient_typed(text, expected):
    assert followups.find_mobile(text, "GB") == expected


def test_staff_see_a_masked_number_and_which_chats_can_be_written_to_later():
    assert followups.masked("+447911123456") == "+44 •••••••456"
    assert followups.reachable_in_chat("telegram", "telegram:5550001")
    assert followups.reachable_in_chat("twilio", "twilio:+447911123456")
    assert not followups.reachable_in_chat("twilio", "twilio:whatsapp:+447911123456")
    assert not followups.reachable_in_chat("facebook", "facebook:123")
    assert followups.reachable_in_chat("slack", "slack:U0123ABC")
    assert not followups.reachable_in_chat("slack", "slack:U0123ABC_C0456DEF")   # a channel, not one person
    assert not followups.reachable_in_chat("socketio", "a1b2c3")
