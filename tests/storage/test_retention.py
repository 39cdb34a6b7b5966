"""Erasure leaves nothing behind; the purge command respects the retention windows."""
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import MetaData, String, Text, func, or_, select

from storage import audit, projector
from storage.cli import main as cli
from storage.db import session_factory
from storage.models import AuditEntry, Conversation, Event, LoginThrottle, Review, TriageOutcome
from storage.retention import erase_conversation
from testing import synthetic

pytestmark = pytest.mark.postgres

DAY = 86_400
KEY = "test-secret"


def rows_mentioning(engine, text):
    """Every row, in every table the database has, with a text column containing `text`."""
    reflected = MetaData()
    reflected.reflect(bind=engine)
    found = {}
    with engine.connect() as connection:
        for table in reflected.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
            if not columns:
                continue
            count = connection.execute(select(func.count()).select_from(table).where(
                or_(*(c.contains(text, autoescape=True) for c in columns)))).scalar()
            if count:
                found[table.name] = count
    return found


def fully_recorded_conversation(engine, repository, sender_id, t0):
    synthetic.store_events(engine, sender_id, synthetic.cauda_equina_conversation(t0))
    repository.record_outcome(
        conversation_id=sender_id, level="emergency", red_flags=["cauda_equina"],
        rules=["cauda_equina.saddle_or_sphincter"], protocol_version="2026.11.0", plan=[],
        reason="Saddle numbness.", findings={}, channel="rest",
        created_at=datetime.fromtimestamp(t0 + 13, timezone.utc), event_key="live")
    repository.record_handoff(conversation_id=sender_id, contact_method="phone",
                              contact_value="07700 900123", consented=True, level="emergency",
                              channel="rest", created_at=datetime.now(timezone.utc))
    repository.record_follow_up(conversation_id=sender_id, channel="rest", contact_method="sms",
                                contact_value="+447911123456", presentation="low_back_pain",
                                presentations=["low_back_pain"], level="self_care", after_days=14,
                                created_at=datetime.now(timezone.utc))
    with session_factory(engine)() as session, session.begin():
        session.add(Review(conversation_id=sender_id, status="follow_up", reviewer="dr@x.org",
                           note=f"called back about {sender_id}", follow_up=True))
        audit.record(session, actor="dr@x.org", action="view", key=KEY,
                     conversation_id=sender_id)


def test_erasure_leaves_no_row_of_the_conversation_in_any_table(engine, repository):
    t0 = time.time() - 3600
    fully_recorded_conversation(engine, repository, "erase-me-7f3a", t0)
    fully_recorded_conversation(engine, repository, "keep-me-91c2", t0)
    projector.catch_up(engine)
    assert set(rows_mentioning(engine, "erase-me-7f3a")) >= {
        "events", "conversations", "triage_outcomes", "handoff_requests", "reviews", "follow_ups"}

    with session_factory(engine)() as session, session.begin():
        assert erase_conversation(session, "erase-me-7f3a", actor="admin@x.org", audit_key=KEY)

    assert rows_mentioning(engine, "erase-me-7f3a") == {}
    assert set(rows_mentioning(engine, "keep-me-91c2")) >= {"events", "conversations"}
    with session_factory(engine)() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "erase")).scalar_one()
    assert (entry.actor, entry.target_ref) == (
        "admin@x.org", audit.conversation_ref("erase-me-7f3a", KEY))
    assert entry.details == {"found": True}


def test_a_console_view_racing_an_erasure_does_not_bring_the_conversation_back(engine, repository):
    fully_recorded_conversation(engine, repository, "erase-race-5d1e", time.time() - 3600)
    projector.catch_up(engine)
    with session_factory(engine)() as viewer:
        stale = projector.load_transcripts(viewer, ["erase-race-5d1e"])  # read just before the erasure
    with session_factory(engine)() as admin, admin.begin():
        erase_conversation(admin, "erase-race-5d1e", actor="admin@x.org", audit_key=KEY)
    with session_factory(engine)() as viewer, viewer.begin():
        projector.project_conversations(viewer, ["erase-race-5d1e"], stale)
    assert rows_mentioning(engine, "erase-race-5d1e") == {}


def test_purge_erases_conversations_just_outside_the_window_and_keeps_those_inside(
        engine, pg_url, monkeypatch):
    now = time.time()
    synthetic.store_events(engine, "inside", synthetic.calf_cramp_conversation(now - 30 * DAY + 3600))
    synthetic.store_events(engine, "outside", synthetic.calf_cramp_conversation(now - 30 * DAY - 3600))
    monkeypatch.setenv("CLINIC_DATABASE_URL", pg_url)
    monkeypatch.setenv("CLINIC_UNCONSENTED_RETENTION_HOURS", "24")

    cli(["purge", "--days", "30"])

    with session_factory(engine)() as session:
        senders = set(session.execute(select(Event.sender_id)).scalars())
        conversations = set(session.execute(select(Conversation.sender_id)).scalars())
        purge = session.execute(select(AuditEntry).where(AuditEntry.action == "purge")).scalar_one()
    assert senders == conversations == {"inside"}
    assert purge.details == {"days": 30, "conversations": 1}


def test_purge_deletes_the_text_of_old_unconsented_conversations_but_keeps_their_outcome(
        engine, pg_url, monkeypatch):
    now = time.time()
    for sender_id, start, consent in (("no-consent-old", now - 2 * DAY, False),
                                      ("consent-old", now - 2 * DAY, True),
                                      ("no-consent-recent", now - 3600, False)):
        synthetic.store_events(engine, sender_id,
                               synthetic.cauda_equina_conversation(start, consent=consent))
    monkeypatch.setenv("CLINIC_DATABASE_URL", pg_url)
    monkeypatch.setenv("CLINIC_UNCONSENTED_RETENTION_HOURS", "24")

    cli(["purge", "--days", "365"])

    with session_factory(engine)() as session:
        senders = set(session.execute(select(Event.sender_id)).scalars())
        outcome = session.execute(select(TriageOutcome).where(
            TriageOutcome.conversation_id == "no-consent-old")).scalar_one()
        summary = session.get(Conversation, "no-consent-old")
    assert senders == {"consent-old", "no-consent-recent"}
    assert (outcome.level, outcome.red_flags, outcome.rules) == (
        "emergency", ["cauda_equina"], ["cauda_equina.saddle_or_sphincter"])
    assert (outcome.reason, outcome.findings) == (None, None)
    assert (summary.max_level, summary.preview, summary.search_text) == ("emergency", None, None)
    assert summary.text_purged_at is not None


def test_the_purge_job_forgets_failed_sign_ins_after_a_quiet_window(engine, pg_url, monkeypatch):
    now = datetime.now(timezone.utc)
    rows = {"account:typed:quiet": (now - timedelta(minutes=16), None),
            "address:198.51.100.7": (now - timedelta(hours=3), now - timedelta(hours=3)),
            "account:typed:recent": (now - timedelta(minutes=14), None),
            "address:203.0.113.9": (now - timedelta(minutes=20), now + timedelta(minutes=1))}
    with session_factory(engine)() as session, session.begin():
        session.add_all(LoginThrottle(key=key, failures=6, window_started_at=last_failure,
                                      locked_until=wait_ends)
                        for key, (last_failure, wait_ends) in rows.items())
    monkeypatch.setenv("CLINIC_DATABASE_URL", pg_url)
    monkeypatch.setenv("CLINIC_LOGIN_WINDOW_MINUTES", "15")

    cli(["purge"])

    with session_factory(engine)() as session:
        kept = set(session.execute(select(LoginThrottle.key)).scalars())
    assert kept == {"account:typed:recent", "address:203.0.113.9"}, \
        "a recent failure, and a wait still running, stay"
