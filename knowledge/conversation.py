"""From a conversation to what the patient has told us: findings with status, consent, answers.

A conversation is a list of Turns. `turns_from_events` reads them from Rasa's event JSON (plain
dicts, as stored by the tracker store and sent to the action server), so the Rasa server's policy,
its NLG and the action server all reach the same answer from the same events. No Rasa import.

How a turn updates the findings, in order:
1. If the bot had just asked a screening question, the reply's polarity answers it: yes marks the
   question positive (and its only item present), no marks every item absent, "not sure" marks
   the unknown items uncertain. Polarity comes from the deterministic answer lexicon first; the
   intent classifier's affirm/deny/unsure is used only when the lexicon finds no answer.
2. Findings named in the message then apply on top (present beats absent within one message).
Later turns override earlier ones: the patient may correct themselves.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from knowledge.model import Knowledge, knowledge
from knowledge.triage import ABSENT, KNOWN, PRESENT, UNCERTAIN, Outcome, evaluate

CONSENT_QUESTION = "consent"
INTENT_ANSWERS = {"affirm": "affirm", "deny": "deny", "unsure": "unsure"}
MIN_INTENT_CONFIDENCE = 0.6
MENTION_STATUS = {"present": PRESENT, "absent": ABSENT}


@dataclass(frozen=True)
class Turn:
    text: str = ""
    mentions: tuple[tuple[str, str], ...] = ()     # (finding id, status) as extracted
    answer: str | None = None                      # affirm | qualified_affirm | deny | unsure | None
    intent: str | None = None
    intent_confidence: float = 0.0
    asked: str | None = None                       # the question the bot asked just before

    @property
    def polarity(self) -> str | None:
        if self.answer:
            return "affirm" if self.answer == "qualified_affirm" else self.answer
        if self.intent in INTENT_ANSWERS and self.intent_confidence >= MIN_INTENT_CONFIDENCE:
            return INTENT_ANSWERS[self.intent]
        return None


@dataclass
class ConversationState:
    findings: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)      # finding -> the words it came from
    consent: bool | None = None
    asked: list[str] = field(default_factory=list)              # questions asked so far, in order

    def outcome(self, k: Knowledge | None = None) -> Outcome:
        return evaluate(self.findings, k)

    @property
    def complaints(self) -> list[str]:
        k = knowledge()
        return [f for f, status in self.findings.items()
                if status == PRESENT and f in k.findings and k.findings[f].kind == "symptom"]


def _apply_answer(state: ConversationState, turn: Turn, k: Knowledge) -> None:
    polarity = turn.polarity
    if turn.asked == CONSENT_QUESTION:
        if polarity in ("affirm", "deny"):
            state.consent = polarity == "affirm"
        return
    try:
        question = k.question(turn.asked)
    except KeyError:
        return
    if polarity == "affirm":
        state.findings[question.screen_finding] = PRESENT
        if len(question.items) == 1:
            state.findings[question.items[0]] = PRESENT
    elif polarity == "deny":
        state.findings[question.screen_finding] = ABSENT
        for item in question.items:
            state.findings[item] = ABSENT
    elif polarity == "unsure":
        state.findings[question.screen_finding] = UNCERTAIN
        for item in question.items:
            if state.findings.get(item) not in KNOWN:
                state.findings[item] = UNCERTAIN
    else:
        return
    state.evidence[question.screen_finding] = turn.text


def conversation_state(turns: Iterable[Turn], k: Knowledge | None = None) -> ConversationState:
    k = k or knowledge()
    state = ConversationState()
    for turn in turns:
        if turn.asked:
            state.asked.append(turn.asked)
            _apply_answer(state, turn, k)
        said: dict[str, str] = {}
        for finding, status in turn.mentions:
            status = MENTION_STATUS.get(status)
            if status and said.get(finding) != PRESENT:
                said[finding] = status
        for finding, status in said.items():
            state.findings[finding] = status
            state.evidence[finding] = turn.text
    return state


# ---- Rasa event JSON -> turns ----------------------------------------------------------------
RESET_EVENTS = ("restart", "session_started")


def _entities(parse_data: dict) -> list[dict]:
    entities = parse_data.get("entities") or []
    return [e for e in entities if isinstance(e, dict)]


def turn_from_user_event(event: dict, asked: str | None) -> Turn:
    parse = event.get("parse_data") or {}
    intent = parse.get("intent") or {}
    entities = _entities(parse)
    mentions = tuple((e.get("value"), e.get("role") or "present") for e in entities if e.get("entity") == "finding")
    answer = next((e.get("value") for e in entities if e.get("entity") == "answer"), None)
    return Turn(text=event.get("text") or "", mentions=mentions, answer=answer, intent=intent.get("name"),
                intent_confidence=float(intent.get("confidence") or 0.0), asked=asked)


def asked_in(event: dict) -> str | None:
    """The question id a bot event asked (custom.ask), if any."""
    custom = (event.get("data") or {}).get("custom") or {}
    return custom.get("ask") if isinstance(custom, dict) else None


def turns_from_events(events: Iterable[dict[str, Any]]) -> list[Turn]:
    """The turns of the current session, in order.

    What the bot asked comes from its message (custom.ask) or from the form's requested_slot; the
    latter is all `rasa test` stories have, since no action runs there.
    """
    turns: list[Turn] = []
    asked: str | None = None
    for event in events:
        kind = event.get("event")
        if kind in RESET_EVENTS:
            turns, asked = [], None
        elif kind == "slot" and event.get("name") == "requested_slot":
            asked = event.get("value")
        elif kind == "bot":
            asked = asked_in(event)
        elif kind == "user":
            turns.append(turn_from_user_event(event, asked))
            asked = None
    return turns


def state_from_events(events: Iterable[dict[str, Any]], k: Knowledge | None = None) -> ConversationState:
    return conversation_state(turns_from_events(events), k)
