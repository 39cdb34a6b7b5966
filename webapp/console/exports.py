"""CSV and JSON exports of triage outcomes and transcripts: redacted unless an admin asks."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator

from flask import Response, abort, g, request, stream_with_context
from sqlalchemy import select

from storage import projector
from storage.models import Conversation, TriageOutcome, utcnow
from storage.redaction import redact
from storage.transcript import Transcript
from webapp.console import (
    bp,
    conversation_label,
    db,
    form_max_age_seconds,
    record_audit,
    sender_from_token,
)
from webapp.console.listing import ListFilters, conversation_page
from webapp.console.views import zone

KINDS = ("outcomes", "transcripts")
FORMATS = ("csv", "json")
_CHUNK = 200
OUTCOME_COLUMNS = ("conversation_id", "channel", "created_at", "level", "red_flags", "rules",
                   "protocol_version", "plan", "reason", "sources", "source")
TURN_COLUMNS = ("conversation_id", "time", "speaker", "text", "button")

Shown = Callable[[str | None], str | None]


def _conversation_chunks(conversation_id: str | None, filters: ListFilters
                         ) -> Iterator[list[Conversation]]:
    """The conversations to export, in list order, a chunk at a time."""
    if conversation_id:
        conversation = db().get(Conversation, conversation_id)
        if conversation:
            yield [conversation]
        return
    after = None
    while True:
        page = conversation_page(db(), filters, zone(), after=after, limit=_CHUNK)
        if page.rows:
            yield page.rows
        if not page.next_key:
            return
        after = page.next_key


def _outcomes(sender_ids: list[str]) -> list[TriageOutcome]:
    return db().execute(select(TriageOutcome).where(TriageOutcome.conversation_id.in_(sender_ids))
                        .order_by(TriageOutcome.conversation_id, TriageOutcome.created_at)
                        ).scalars().all()


def outcome_record(outcome: TriageOutcome, shown: Shown, name: Shown) -> dict:
    return {"conversation_id": name(outcome.conversation_id), "channel": outcome.channel,
            "created_at": outcome.created_at.isoformat(), "level": outcome.level,
            "red_flags": outcome.red_flags, "rules": outcome.rules,
            "protocol_version": outcome.protocol_version, "plan": outcome.plan,
            "reason": shown(outcome.reason), "sources": outcome.sources,
            "source": outcome.source}


def turn_records(conversation_id: str, transcript: Transcript, shown: Shown, name: Shown) -> list[dict]:
    return [{"conversation_id": name(conversation_id),
             "time": turn.at.isoformat() if turn.at else None, "speaker": turn.speaker,
             "text": shown(turn.text), "button": turn.button} for turn in transcript.turns]


def _csv_cell(value) -> str:
    if isinstance(value, list):
        value = "; ".join(map(str, value))
    text = "" if value is None else str(value)
    # A cell starting like a formula would run in a spreadsheet: make it plain text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(columns: tuple[str, ...], records: Iterable[dict]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for record in records:
        writer.writerow([_csv_cell(record[column]) for column in columns])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _json(header: dict, list_name: str, records: Iterable[dict]) -> Iterator[str]:
    yield json.dumps(header)[:-1] + f', "{list_name}": ['
    for index, record in enumerate(records):
        yield ("," if index else "") + "\n" + json.dumps(record, ensure_ascii=False)
    yield "\n]}\n"


def _records(kind: str, chunks: Iterable[list[Conversation]], shown: Shown, name: Shown, as_json: bool
             ) -> Iterator[dict]:
    """`shown` renders patient text, `name` a conversation id (redacted: a pseudonym)."""
    for chunk in chunks:
        ids = [conversation.sender_id for conversation in chunk]
        outcomes = _outcomes(ids)
        if kind == "outcomes":
            yield from (outcome_record(outcome, shown, name) for outcome in outcomes)
            continue
        transcripts = projector.load_transcripts(db(), ids)
        if not as_json:
            for sender_id in ids:
                yield from turn_records(sender_id, transcripts[sender_id], shown, name)
            continue
        for conversation in chunk:
            sender_id = conversation.sender_id
            yield {"conversation_id": name(sender_id), "channel": conversation.channel,
                   "consent": conversation.consent, "max_level": conversation.max_level,
                   "review_status": conversation.review_status,
                   "last_activity_at": conversation.last_activity_at.isoformat(),
                   "outcomes": [outcome_record(o, shown, name) for o in outcomes
                                if o.conversation_id == sender_id],
                   "transcript": turn_records(sender_id, transcripts[sender_id], shown, name)}


@bp.post("/export")
def export():
    kind, fmt = request.form.get("kind"), request.form.get("format")
    if kind not in KINDS or fmt not in FORMATS:
        abort(400)
    unredacted = request.form.get("unredacted") == "on"
    if unredacted and g.staff.role != "admin":
        abort(403)
    conversation_id = sender_from_token(request.form.get("conversation_id") or "",
                                        max_age_seconds=form_max_age_seconds()) or None
    filters = ListFilters.from_args(request.form)
    record_audit("export", conversation_id, kind=kind, format=fmt, redacted=not unredacted,
                 **({} if conversation_id else filters.audit_details()))
    db().commit()

    shown: Shown = (lambda text: text) if unredacted else redact
    name: Shown = (lambda sender_id: sender_id) if unredacted else conversation_label
    records = _records(kind, _conversation_chunks(conversation_id, filters), shown, name,
                       as_json=fmt == "json")
    if fmt == "csv":
        body = _csv(OUTCOME_COLUMNS if kind == "outcomes" else TURN_COLUMNS, records)
        mimetype = "text/csv"
    else:
        header = {"exported_at": utcnow().isoformat(), "redacted": not unredacted}
        body = _json(header, "outcomes" if kind == "outcomes" else "conversations", records)
        mimetype = "application/json"
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return Response(stream_with_context(body), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{kind}-{stamp}.{fmt}"'})
