"""The projector builds the console's summary from Rasa's events and reconciles outcomes."""
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from storage import projector
from storage.db import session_factory
from storage.models import Conversation, ProjectorState, TriageOutcome
from storage.transcript import outcome_event_key
from testing import synthetic

pytestmark = pytest.mark.postgres


def rows(engine, model, **where):
    with session_factory(engine)() as session:
        return session.execute(select(model).filter_by(**where)).scalars().all()


def test_a_triage_outcome_written_only_as_a_bot_event_is_reconciled(engine):
    t0 = time.time() - 600
    synthetic.store_events(engine, "web-1", synthetic.cauda_equina_conversation(
        t0, first_message="I'm Sarah Jones, my back hurts and my legs feel weak"))

    projector.catch_up(engine)
    projector.catch_up(engine)      # idempotent: nothing new, nothing doubled

    [outcome] = rows(engine, TriageOutcome, conversation_id="web-1")
    assert outcome.source == "reconciled"
    assert (outcome.level, outcome.red_flags, outcome.rules) == (
        "emergency", ["cauda_equina"], ["cauda_equina.saddle_or_sphincter"])
    assert outcome.sources == ["NICE CKS Sciatica", "GIRFT National Suspected CES pathway"]
    assert {"value": "saddle_numbness", "status": "present"}.items() <= \
        outcome.findings["entities"][-1].items()
    [conversation] = rows(engine, Conversation, sender_id="web-1")
    assert (conversation.max_level, conversation.consent, conversation.channel) == (
        "emergency", True, "rest")
    assert conversation.preview == "I'm [name], my back hurts and my legs feel weak"
    assert "Sarah" not in conversation.search_text
    assert conversation.started_at == datetime.fromtimestamp(t0, timezone.utc)


def test_an_outcome_the_action_server_wrote_is_not_duplicated(engine, repository):
    t0 = time.time() - 600
    events = synthetic.calf_cramp_conversation(t0)
    last_user = [e for e in events if e["event"] == "user"][-1]
    repository.record_outcome(
        conversation_id="web-2", level="self_care", red_flags=[], rules=[],
        protocol_version="2026.11.0", plan=["soleus_stretch"], reason="Night cramps.",
        findings={}, channel="rest", created_at=datetime.now(timezone.utc),
        event_key=outcome_event_key(last_user["timestamp"]))
    synthetic.store_events(engine, "web-2", events)

    projector.catch_up(engine)

    [outcome] = rows(engine, TriageOutcome, conversation_id="web-2")
    assert outcome.source == "action_server"
    assert outcome.sources == ["NICE CKS Leg cramps"]   # filled in from the bot event


def test_new_events_update_the_summary_incrementally(engine):
    t0 = time.time() - 3600
    synthetic.store_events(engine, "web-3", synthetic.calf_cramp_conversation(t0, consent=False))
    projector.catch_up(engine)
    assert rows(engine, Conversation, sender_id="web-3")[0].max_level == "self_care"

    synthetic.store_events(engine, "web-3", synthetic.cauda_equina_conversation(t0 + 1800, consent=True)[3:])
    assert projector.catch_up(engine) == 6      # only the new rows are read

    [conversation] = rows(engine, Conversation, sender_id="web-3")
    assert (conversation.max_level, conversation.consent) == ("emergency", True)
    assert conversation.last_activity_at > datetime.fromtimestamp(t0 + 1800, timezone.utc)
    assert len(rows(engine, TriageOutcome, conversation_id="web-3")) == 2


def test_the_watermark_waits_at_a_hole_in_the_ids_until_it_is_old():
    cursor = projector.EventCursor()
    cursor.watermark = cursor.read_up_to = 10
    now = datetime.now(timezone.utc)
    cursor._advance([11, 12, 14, 15], [], now)
    assert (cursor.watermark, set(cursor.holes)) == (12, {13})

    cursor._advance([], [13], now)                     # the late transaction committed
    assert (cursor.watermark, cursor.holes) == (15, {})

    cursor._advance([17], [], now)
    assert cursor.watermark == 15
    cursor._advance([], [], now + projector.GAP_PATIENCE)   # 16 never came: a rollback
    assert (cursor.watermark, cursor.holes) == (17, {})


def test_a_transaction_that_commits_late_is_projected_and_the_watermark_waits_for_it(engine):
    t0 = time.time() - 600
    late = engine.connect()
    transaction = late.begin()
    synthetic.insert_events(late, "late", synthetic.calf_cramp_conversation(t0))   # ids taken, not committed
    synthetic.store_events(engine, "early", synthetic.calf_cramp_conversation(t0))
    cursor = projector.EventCursor()

    cursor.step(engine)
    assert [c.sender_id for c in rows(engine, Conversation)] == ["early"]
    [state] = rows(engine, ProjectorState)
    assert state.last_event_id < min(cursor.holes) and state.gap_seen_at is not None

    transaction.commit()
    late.close()
    cursor.step(engine)
    assert sorted(c.sender_id for c in rows(engine, Conversation)) == ["early", "late"]
    [state] = rows(engine, ProjectorState)
    assert (state.last_event_id, state.gap_seen_at, cursor.holes) == (cursor.read_up_to, None, {})


def test_a_new_projector_inherits_how_long_a_hole_has_been_waited_for(engine):
    t0 = time.time() - 600
    synthetic.store_events(engine, "a", synthetic.calf_cramp_conversation(t0))
    projector.catch_up(engine)
    with engine.begin() as connection:     # an id handed out and rolled back
        connection.exec_driver_sql("SELECT nextval(pg_get_serial_sequence('events', 'id'))")
    synthetic.store_events(engine, "b", synthetic.calf_cramp_conversation(t0))

    projector.catch_up(engine)
    [state] = rows(engine, ProjectorState)
    assert state.gap_seen_at is not None
    watermark = state.last_event_id
    with session_factory(engine)() as session, session.begin():
        session.get(ProjectorState, projector.STATE_NAME).gap_seen_at -= projector.GAP_PATIENCE

    projector.catch_up(engine)         # a fresh cursor: the hole is old now, not new
    [state] = rows(engine, ProjectorState)
    assert state.last_event_id > watermark and state.gap_seen_at is None


def test_events_past_a_hole_are_still_projected(engine):
    t0 = time.time() - 600
    synthetic.store_events(engine, "erased", synthetic.calf_cramp_conversation(t0))
    synthetic.store_events(engine, "kept", synthetic.calf_cramp_conversation(t0))
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM events WHERE sender_id = 'erased'")

    projector.catch_up(engine, batch_size=3)

    assert [c.sender_id for c in rows(engine, Conversation)] == ["kept"]
    assert rows(engine, Conversation)[0].max_level == "self_care"
