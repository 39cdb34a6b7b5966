"""Read Rasa event rows into what people see: turns, chosen buttons, findings, triage decisions."""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from storage.redaction import redact

PREVIEW_CHARS = 140
SEARCH_TEXT_CHARS = 20_000
# The projector worker recomputes a conversation at each of its turns: each message is redacted
# once per process. Keyed by a hash, so the cache holds no unredacted text.
REDACTED_CACHE_SIZE = 50_000
_redacted: OrderedDict[bytes, str] = OrderedDict()
_redacted_lock = threading.Lock()


def redact_message(text: str) -> str:
    """redact(text), remembered for the most recent REDACTED_CACHE_SIZE messages."""
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    with _redacted_lock:
        if key in _redacted:
            _redacted.move_to_end(key)
            return _redacted[key]
    redacted = redact(text)
    with _redacted_lock:
        _redacted[key] = redacted
        while len(_redacted) > REDACTED_CACHE_SIZE:
            _redacted.popitem(last=False)
    return redacted


@dataclass
class Turn:
    speaker: str                 # "patient" or "bot"
    text: str
    at: datetime | None
    button: bool = False         # the patient pressed a button; text is its title
    buttons: list[str] = field(default_factory=list)   # titles the bot offered
    triage: dict | None = None


@dataclass
class Finding:
    entity: str
    value: str
    role: str | None
    negated: bool
    historical: bool
    hypothetical: bool
    experiencer: str | None
    at: datetime | None

    @property
    def status(self) -> str:
        if self.negated:
            return "absent"
        if self.hypothetical:
            return "hypothetical"
        if self.historical:
            return "past"
        return "present"


@dataclass
class TriageDecision:
    event_key: str
    at: datetime
    payload: dict


@dataclass
class Transcript:
    turns: list[Turn] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    decisions: list[TriageDecision] = field(default_factory=list)
    channel: str | None = None
    started_at: datetime | None = None
    last_activity_at: datetime | None = None
    consent: bool | None = None
    consent_at: datetime | None = None

    @property
    def patient_texts(self) -> list[str]:
        return [turn.text for turn in self.turns if turn.speaker == "patient" and turn.text]

    def preview(self) -> str | None:
        typed = [turn.text for turn in self.turns
                 if turn.speaker == "patient" and turn.text and not turn.button]
        if not typed:
            return None
        text = redact_message(" ".join(typed[0].split()))
        return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS - 1] + "…"

    def search_text(self) -> str | None:
        """Each message redacted on its own, as the console shows it."""
        text = "\n".join(redact_message(text) for text in self.patient_texts)
        return text[:SEARCH_TEXT_CHARS] if text else None


def outcome_event_key(user_message_timestamp: float) -> str:
    """Idempotency key of a triage outcome: the timestamp of the patient message it answers.

    The action server computes it from the last user event in `tracker.events` (or sends its own
    key as `triage.event_key` in the custom payload); the projector derives the same one."""
    return f"user@{user_message_timestamp:.6f}"


def to_datetime(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, timezone.utc)


def parse_data(raw: str | dict | None) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _findings(event: dict, at: datetime | None) -> list[Finding]:
    found = []
    for entity in (event.get("parse_data") or {}).get("entities") or []:
        if not isinstance(entity, dict) or "entity" not in entity:
            continue
        assertion = entity.get("assertion") or {}
        found.append(Finding(
            entity=str(entity["entity"]), value=str(entity.get("value", "")),
            role=entity.get("role"), negated=bool(assertion.get("negated")),
            historical=bool(assertion.get("historical")),
            hypothetical=bool(assertion.get("hypothetical")),
            experiencer=assertion.get("experiencer"), at=at))
    return found


def build_transcript(events: Iterable[tuple[str, float | None, str | dict | None]]) -> Transcript:
    """`events` are (type_name, timestamp, data) in id order, as Rasa stored them."""
    transcript = Transcript()
    offered: dict[str, str] = {}     # payload -> title of the last bot message's buttons
    last_user_timestamp: float | None = None
    for type_name, timestamp, raw in events:
        at = to_datetime(timestamp)
        if at is not None:
            transcript.started_at = transcript.started_at or at
            transcript.last_activity_at = at
        event = parse_data(raw)
        if type_name == "user":
            text = event.get("text") or ""
            title = offered.get(text)
            transcript.turns.append(Turn("patient", title or text, at, button=title is not None))
            transcript.findings.extend(_findings(event, at))
            transcript.channel = transcript.channel or event.get("input_channel")
            last_user_timestamp = timestamp
            offered = {}
        elif type_name == "bot":
            data = event.get("data") or {}
            buttons = [b for b in data.get("buttons") or [] if isinstance(b, dict)]
            offered = {str(b.get("payload")): str(b.get("title") or b.get("payload"))
                       for b in buttons}
            custom = data.get("custom") if isinstance(data.get("custom"), dict) else {}
            triage = custom.get("triage") if isinstance(custom.get("triage"), dict) else None
            transcript.turns.append(Turn("bot", event.get("text") or "", at,
                                         buttons=list(offered.values()), triage=triage))
            if triage and triage.get("level") and at is not None:
                key = triage.get("event_key") or outcome_event_key(
                    last_user_timestamp if last_user_timestamp is not None else timestamp)
                transcript.decisions.append(TriageDecision(str(key), at, triage))
        elif type_name == "slot" and event.get("name") == "consent":
            value = event.get("value")
            transcript.consent = value if isinstance(value, bool) else None
            transcript.consent_at = at
    return transcript
