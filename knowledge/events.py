"""A read-only view of a conversation's events (Rasa's event JSON as plain dicts), no Rasa import.

The policy (bot/flow.py) and the actions (actions/) read the same things from the same events:
the current session, the last action, the active form, the latest message's intent, and the
emergency/urgent advice announced so far.
"""
from __future__ import annotations

from knowledge.conversation import state_from_events
from knowledge.model import Knowledge, knowledge
from knowledge.triage import Outcome, evaluate
from knowledge.turns import RESET_EVENTS, read_intent, turns_from_events

ESCALATE = "utter_escalation"


def last_index(events: list[dict], kind: str, name: str | None = None) -> int:
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") == kind and (name is None or event.get("name") == name):
            return index
    return -1


def session(events: list[dict]) -> list[dict]:
    """The events of the current session (after the last restart or session start)."""
    start = max(last_index(events, kind) for kind in RESET_EVENTS)
    return events[start + 1:]


def active_loop_before(events: list[dict], index: int) -> str | None:
    for event in reversed(events[:index]):
        if event.get("event") == "active_loop":
            return event.get("name")
    return None


def active_loop(events: list[dict]) -> str | None:
    return active_loop_before(events, len(events))


def classified_intent(events: list[dict]) -> str | None:
    """The latest message's intent as the classifier gave it (what Rasa's rules go by)."""
    index = last_index(events, "user")
    return ((events[index].get("parse_data") or {}).get("intent") or {}).get("name") if index >= 0 else None


def latest_intent(events: list[dict]) -> str | None:
    """The latest message's intent as the conversation reads it (knowledge.turns.read_intent)."""
    index = last_index(events, "user")
    return read_intent(classified_intent(events), events[index].get("text") or "") if index >= 0 else None


def latest_polarity(events: list[dict]) -> str | None:
    turns = turns_from_events(events)
    return turns[-1].polarity if turns else None


def escalations(events: list[dict], k: Knowledge | None = None) -> list[Outcome]:
    """The outcome announced at each utter_escalation so far (replayed from the events)."""
    k = k or knowledge()
    announced = []
    for index, event in enumerate(events):
        if event.get("event") == "action" and event.get("name") == ESCALATE:
            announced.append(evaluate(state_from_events(events[:index], k).findings, k))
    return announced
