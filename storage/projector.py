"""Keep the `conversations` summary and triage outcomes current from Rasa's `events` table.

Incremental (events with ids above a remembered watermark) and idempotent: every conversation
touched by new events is recomputed from all of its events, so replaying a batch changes nothing.
Triage decisions found in bot events but missing from triage_outcomes (the action server could
not write them) are inserted with source="reconciled". The projector worker
(storage/projector_worker.py) runs this continuously; the CLI and the retention job call catch_up.

Ids are handed out before commit, so a slow transaction can commit an id below ones already
read. A cursor therefore remembers the holes in the ids it has read and re-reads just those; the
stored watermark stays below the lowest hole (a restarted projector re-reads what lies beyond)
until the hole is GAP_PATIENCE old (then it is taken as a rollback or an erased event).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from storage.conversations import chunks, insert_ignore, level_rank, lock_conversations, refresh_outcome_fields
from storage.db import is_postgresql, session_factory
from storage.models import Conversation, Event, ProjectorState, TriageOutcome, utcnow
from storage.repository import apply_consent
from storage.transcript import Transcript, build_transcript

log = logging.getLogger(__name__)

STATE_NAME = "conversations"
GAP_PATIENCE = timedelta(seconds=60)
# A jump in the ids wider than this is not transactions in flight (a sequence moved on): not waited for.
MAX_HOLE = 10_000


class EventCursor:
    """Where one projector is in the events table: the stored watermark (every id at or below it
    is projected), the highest id read, and the holes below that (ids not seen yet, each with the
    time it was first missed). Keep one per process; catch_up() makes a fresh one."""

    def __init__(self) -> None:
        self.watermark: int | None = None
        self.read_up_to = 0
        self.holes: dict[int, datetime] = {}
        self._inherited_gap_at: datetime | None = None
        self.caught_up = False

    def step(self, engine: Engine, batch_size: int = 1000) -> int | None:
        """Project up to batch_size new events and any that filled a hole. Returns the rows read,
        or None when another process holds the projector (PostgreSQL row lock)."""
        with session_factory(engine)() as session, session.begin():
            state = _lock_state(session, wait=False)
            if state is None:
                return None
            if state.last_event_id != self.watermark:      # first step, or another process moved it
                self._restart_from(state)
            rows = session.execute(
                select(Event.id, Event.sender_id).where(Event.id > self.read_up_to)
                .order_by(Event.id).limit(batch_size)).all()
            filled = self._filled_holes(session)
            senders = sorted({row.sender_id for row in rows} | {row.sender_id for row in filled})
            if senders:
                project_conversations(session, senders)
            self._advance([row.id for row in rows], [row.id for row in filled])
            state.last_event_id = self.watermark
            state.gap_seen_at = self.holes[min(self.holes)] if self.holes else None
        self.caught_up = len(rows) < batch_size
        return len(rows) + len(filled)

    def _restart_from(self, state: ProjectorState) -> None:
        self.watermark = self.read_up_to = state.last_event_id
        # A hole just above the stored watermark was first missed when it says.
        self.holes, self._inherited_gap_at = {}, state.gap_seen_at

    def _filled_holes(self, session: Session) -> list:
        found = []
        for batch in chunks(sorted(self.holes)):
            found += session.execute(select(Event.id, Event.sender_id)
                                     .where(Event.id.in_(batch))).all()
        return found

    def _advance(self, new_ids: list[int], filled_ids: list[int], now: datetime | None = None) -> None:
        now = now or utcnow()
        for event_id in filled_ids:
            self.holes.pop(event_id, None)
        previous = self.read_up_to
        for event_id in new_ids:
            if event_id - previous - 1 > MAX_HOLE:
                log.warning("event ids jumped by %d; not waiting for the ids in between",
                            event_id - previous)
            else:
                for missing in range(previous + 1, event_id):
                    inherited = missing == self.watermark + 1 and self._inherited_gap_at
                    self.holes[missing] = inherited or now
            previous = event_id
        self.read_up_to = previous
        for event_id, missed_at in list(self.holes.items()):
            if now - missed_at >= GAP_PATIENCE:
                del self.holes[event_id]        # a rollback or an erased event: never coming
        self.watermark = min(self.holes) - 1 if self.holes else self.read_up_to
        self._inherited_gap_at = None


def catch_up(engine: Engine, *, batch_size: int = 1000, max_batches: int | None = None) -> int:
    """Project new events; returns how many event rows were read. Bounded by
    batch_size * max_batches (None: until done). Returns at once if another process is at it."""
    cursor, read, batches = EventCursor(), 0, 0
    while max_batches is None or batches < max_batches:
        count = cursor.step(engine, batch_size)
        if count is None:
            break
        read += count
        batches += 1
        if cursor.caught_up:
            break
    return read


def rebuild(engine: Engine, batch_size: int = 5000) -> int:
    """Recompute every conversation from the start (e.g. after changing the redaction rules)."""
    with session_factory(engine)() as session, session.begin():
        state = _lock_state(session, wait=True)
        state.last_event_id, state.gap_seen_at = 0, None
    return catch_up(engine, batch_size=batch_size)


def _lock_state(session: Session, wait: bool) -> ProjectorState | None:
    insert_ignore(session, ProjectorState,
                  [{"name": STATE_NAME, "last_event_id": 0}], ["name"])
    statement = select(ProjectorState).where(ProjectorState.name == STATE_NAME)
    if is_postgresql(session.bind):
        statement = statement.with_for_update(skip_locked=not wait)
    return session.execute(statement).scalar_one_or_none()


def load_transcripts(session: Session, sender_ids: list[str]) -> dict[str, Transcript]:
    events: dict[str, list] = defaultdict(list)
    for batch in chunks(sender_ids):
        statement = (select(Event.sender_id, Event.type_name, Event.timestamp, Event.data)
                     .where(Event.sender_id.in_(batch)).order_by(Event.id))
        for row in session.execute(statement):
            events[row.sender_id].append((row.type_name, row.timestamp, row.data))
    return {sender_id: build_transcript(events[sender_id]) for sender_id in sender_ids}


def project_conversations(session: Session, sender_ids: list[str],
                          transcripts: dict[str, Transcript] | None = None) -> None:
    """Recompute these conversations' summary rows from their events and outcomes."""
    transcripts = transcripts or load_transcripts(session, sender_ids)
    present = {sid: t for sid, t in transcripts.items() if t.last_activity_at is not None}
    conversations = lock_conversations(
        session, {sid: (t.channel, t.started_at) for sid, t in present.items()})
    # Erased since the transcripts were read (erasure waits for these locks, then deletes):
    # drop the row just re-created rather than bring the conversation back.
    erased = set(present) - _with_events(session, list(present))
    for sender_id in erased:
        session.delete(conversations.pop(sender_id))
        del present[sender_id]
    for sender_id, transcript in present.items():
        apply_transcript(conversations[sender_id], transcript)
    insert_ignore(session, TriageOutcome, [row for sender_id, transcript in present.items()
                                           for row in reconciled_outcomes(sender_id, transcript)],
                  ["conversation_id", "event_key"])
    _fill_missing_sources(session, present)
    refresh_outcome_fields(session, conversations.values())


def _with_events(session: Session, sender_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for batch in chunks(sender_ids):
        found.update(session.execute(select(Event.sender_id).where(Event.sender_id.in_(batch))
                                     .distinct()).scalars())
    return found


def apply_transcript(conversation: Conversation, transcript: Transcript) -> None:
    conversation.channel = conversation.channel or transcript.channel
    conversation.started_at = min(filter(None, (conversation.started_at, transcript.started_at)))
    conversation.last_activity_at = max(conversation.last_activity_at,
                                        transcript.last_activity_at)
    if transcript.consent_at is not None:
        apply_consent(conversation, transcript.consent, transcript.consent_at)
    conversation.preview = transcript.preview()
    conversation.search_text = transcript.search_text()


def reconciled_outcomes(sender_id: str, transcript: Transcript) -> list[dict]:
    """triage_outcomes rows for the decisions in a transcript (source="reconciled")."""
    rows = []
    findings = {"entities": [vars(f) | {"at": f.at.isoformat() if f.at else None, "status": f.status}
                             for f in transcript.findings]}
    for decision in transcript.decisions:
        payload = decision.payload
        try:
            rank = level_rank(str(payload.get("level")))
        except ValueError:
            log.warning("ignoring a triage payload with an unknown level in event data")
            continue
        rows.append(dict(
            conversation_id=sender_id, event_key=decision.event_key, level=payload["level"],
            urgency_rank=rank, red_flags=list(payload.get("red_flags") or []),
            rules=list(payload.get("rules") or []),
            protocol_version=payload.get("protocol_version"),
            plan=list(payload.get("plan") or []), reason=payload.get("reason"),
            sources=list(payload.get("sources") or []), findings=findings,
            channel=transcript.channel, created_at=decision.at, source="reconciled",
            recorded_at=utcnow()))
    return rows


def _fill_missing_sources(session: Session, transcripts: dict[str, Transcript]) -> None:
    """The action server's write may lack the guideline sources; the bot event has them."""
    sources = {(sender_id, decision.event_key): list(decision.payload["sources"])
               for sender_id, transcript in transcripts.items()
               for decision in transcript.decisions if decision.payload.get("sources")}
    for batch in chunks(sorted({sender_id for sender_id, _ in sources})):
        statement = select(TriageOutcome).where(TriageOutcome.conversation_id.in_(batch),
                                                TriageOutcome.sources == [])
        for outcome in session.execute(statement).scalars():
            found = sources.get((outcome.conversation_id, outcome.event_key))
            if found:
                outcome.sources = found
