"""A conversation as the patient's turns, read from Rasa's event JSON (plain dicts, as stored by the
tracker store and sent to the action server), so the Rasa server's policy, its NLG and the action
server all read the same turns from the same events. No Rasa import."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from knowledge.answers import MAX_WORDS_READ_ANYWHERE, NOT_ANSWERS, word_count
from knowledge.model import Knowledge, knowledge

# Intents the dialogue's rules answer in their own way during a form (rules.yml): the form lets them.
INTENTS_WITH_OWN_RULES = NOT_ANSWERS | {"out_of_scope", "nlu_fallback", "restart"}
INTENT_ANSWERS = {"affirm": "affirm", "deny": "deny", "unsure": "unsure"}
UNPLACED_INTENTS = ("nlu_fallback", "out_of_scope")   # the classifier could not place the message
QUESTION_INTENTS = ("ask_question", "ask_plan_detail")
MIN_INTENT_CONFIDENCE = 0.6
PATIENTS_OWN = ("present", "suggested", "uncertain")
RESET_EVENTS = ("restart", "session_started")
_WORDLIKE = re.compile(r"\b(?:(?=[a-z']*[aeiouy])[a-z']{1,20}|\d{1,3})\b")   # a word a person might type


@dataclass(frozen=True)
class Turn:
    text: str = ""
    mentions: tuple[tuple[str, str], ...] = ()     # (finding id, status) as extracted
    answer: str | None = None                      # affirm | qualified_affirm | deny | unsure | None
    intent: str | None = None
    intent_confidence: float = 0.0
    asked: str | None = None                       # the question the bot asked just before
    course: str | None = None                      # long | short: how long a pain has lasted, as said

    @property
    def polarity(self) -> str | None:
        if self.answer:
            return "affirm" if self.answer == "qualified_affirm" else self.answer
        if self.intent in INTENT_ANSWERS and self.intent_confidence >= MIN_INTENT_CONFIDENCE \
                and word_count(self.text) <= MAX_WORDS_READ_ANYWHERE:
            return INTENT_ANSWERS[self.intent]   # the classifier reads short replies, not stories
        return None


def turn_from_analysis(text: str, analysis, asked: str | None = None, intent: str | None = None,
                       confidence: float = 0.0) -> Turn:
    """A turn read straight from the pipeline's Analysis (no Rasa in between: tests, benchmarks,
    the channels' fallback), as the Rasa server's entities would carry it."""
    return Turn(text, tuple((m.finding, m.status) for m in analysis.mentions), analysis.answer, intent, confidence,
                asked, analysis.course)


def read_intent(intent: str | None, text: str, k: Knowledge | None = None, *, findings: bool = False,
                answer: str | None = None) -> str | None:
    """The classifier's intent where the words bear it out: digits with no phone number or email
    ("3 weeks", "yes 12 hour flight") are no contact details but something said about the symptoms;
    a restart needs words that ask for one ("the wife wants me to go in" is no restart); a message
    the classifier could not place is a story when it names a symptom ("sure. first spin class and
    both calves are screaming"), else a yes or no when it starts with one (`findings`: the message
    names one of the patient's findings; `answer`: the answer lexicon's reading of its start)."""
    k = k or knowledge()
    if intent == "give_contact" and re.search(r"\d", text or "") \
            and not re.search(k.patterns["contact_details"], text or ""):
        return "describe_symptoms"
    if intent == "restart" and not re.search(k.patterns["restart_words"], text or "", re.IGNORECASE):
        return "describe_symptoms"   # a restart wipes the conversation: only when asked for in words
    if intent == "goodbye" and text and not text.startswith("/") \
            and not re.search(k.patterns["goodbye_words"], text, re.IGNORECASE):
        # a goodbye ends the conversation: only when said in words ("squash last night" answers)
        return "describe_symptoms" if findings or re.search(k.patterns["time_said"], text.lower()) else "nlu_fallback"
    if intent in QUESTION_INTENTS and text and not text.startswith("/") and not _WORDLIKE.search(text.lower()):
        return "nlu_fallback"   # "xxxxxxxx…" asks nothing: the fallback answers, with the emergency line
    if intent in UNPLACED_INTENTS:
        if findings:
            return "describe_symptoms"
        if answer in ("affirm", "deny"):
            return answer
    return intent


def _entities(parse_data: dict) -> list[dict]:
    entities = parse_data.get("entities") or []
    return [e for e in entities if isinstance(e, dict)]


def turn_from_user_event(event: dict, asked: str | None) -> Turn:
    parse = event.get("parse_data") or {}
    intent = parse.get("intent") or {}
    entities = _entities(parse)
    mentions = tuple((e.get("value"), e.get("role") or "present") for e in entities if e.get("entity") == "finding")
    answer = next((e.get("value") for e in entities if e.get("entity") == "answer"), None)
    course = next((e.get("value") for e in entities if e.get("entity") == "course"), None)
    text = event.get("text") or ""
    patients = any(status in PATIENTS_OWN for _, status in mentions)
    return Turn(text=text, mentions=mentions, answer=answer,
                intent=read_intent(intent.get("name"), text, findings=patients, answer=answer),
                intent_confidence=float(intent.get("confidence") or 0.0), asked=asked,
                course=course if course in ("long", "short") else None)


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
