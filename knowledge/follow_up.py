"""A check-in after the expected course, for a patient who asks for one.

Which outcomes may offer one and when it is due (presentations.yaml `check_in`), the check-in's
own words (advice.yaml `follow_up`), and where the dialogue stands on the offer: the `follow_up`
slot, set by the actions (actions/follow_up.py) and read by the policy (bot/flow.py) from the same
events. No Rasa import.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from knowledge.messages import Contact, split_message
from knowledge.model import ESCALATING_LEVELS, Knowledge, knowledge
from knowledge.plan import presentations_for
from knowledge.triage import evaluate
from knowledge.turns import QUESTION_INTENTS, Turn

# A check-in fits an outcome the patient looks after at home or books for, never one that needs
# a clinician today or now.
OFFERED_LEVELS = ("self_care", "routine")
SLOT = "follow_up"
# The slot's values: where the offer stands.
OFFERED, ASK_PHONE, ASK_PHONE_AGAIN = "offered", "ask_phone", "ask_phone_again"
SCHEDULED, DECLINED, NOT_SAVED = "scheduled", "declined", "not_saved"
OPEN = (OFFERED, ASK_PHONE, ASK_PHONE_AGAIN)     # a question of the offer waits for the reply
PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
# Replies that are no answer to the offer: the rules answer them, and the offer lapses.
NOT_ANSWERS = (*QUESTION_INTENTS, "request_human", "goodbye", "restart", "bot_challenge")


@dataclass(frozen=True)
class CheckInPlan:
    presentation: str                 # whose check-in question is asked
    presentations: tuple[str, ...]    # every presentation the patient fits (what to watch for)
    after_days: int
    level: str


def check_in_for(findings: Mapping[str, str], k: Knowledge | None = None) -> CheckInPlan | None:
    """The check-in that fits these findings: the earliest of their presentations' (the first
    listed on a tie); None for an outcome that offers none."""
    k = k or knowledge()
    level = evaluate(findings, k).level
    if level not in OFFERED_LEVELS:
        return None
    presentations = presentations_for(findings, k)
    timed = [p for p in presentations if p.check_in is not None]
    if not timed:
        return None
    first = min(timed, key=lambda p: p.check_in.after_days)
    return CheckInPlan(first.id, tuple(p.id for p in presentations), first.check_in.after_days, level)


def wait_words(days: int) -> str:
    """"a week", "2 weeks", "10 days"."""
    if days == 7:
        return "a week"
    if days % 7 == 0:
        return f"{days // 7} weeks"
    return "a day" if days == 1 else f"{days} days"


def check_in_messages(presentation: str, presentations: tuple[str, ...] | list[str], after_days: int, level: str,
                      contact: Contact, k: Knowledge | None = None) -> list[dict]:
    """The check-in: its question, what to do next at the patient's level (self-care: book if no
    better; routine: book if not seen yet), what to watch for (the emergency and same-day signs
    that fit the patient's presentations) and what to do if it got worse; split into messages of
    at most 600 characters."""
    k = k or knowledge()
    words, net = k.advice["follow_up"], k.advice["safety_net"]
    chosen = k.presentations.get(presentation)
    ask = chosen.check_in.ask if chosen and chosen.check_in else words["ask_fallback"]
    lines = [words["greeting"].format(**contact, after=wait_words(after_days), ask=ask),
             words[level if level in OFFERED_LEVELS else "routine"].format(**contact)]
    flags = list(dict.fromkeys(f for p in presentations if p in k.presentations for f in k.presentations[p].watch))
    for level in ESCALATING_LEVELS:
        watch = [k.red_flags[f].watch_for for f in flags if k.red_flags[f].level == level]
        if watch:
            lines.append(net[level].format(**contact))
            lines.extend(f"- {w}" for w in dict.fromkeys(watch))
    lines.append(words["if_worse"].format(**contact))
    return [{"text": text, "custom": {"check_in": {"presentation": presentation}}} for text in split_message(lines)]


# ---- the offer in the conversation's events (Rasa event JSON as plain dicts) ------------------
def open_question(events: list[dict]) -> str | None:
    """The offer's question that the latest message replies to: the slot was set to an open
    state in the bot's turn just before it (a reply to anything later lets the offer lapse)."""
    users = [index for index, event in enumerate(events) if event.get("event") == "user"]
    if not users:
        return None
    for event in reversed(events[:users[-1]]):
        if event.get("event") == "user":
            return None
        if event.get("event") == "slot" and event.get("name") == SLOT:
            return event.get("value") if event.get("value") in OPEN else None
    return None


def offered(events: list[dict]) -> bool:
    """A check-in was offered in these events (once a session is enough)."""
    return any(event.get("event") == "slot" and event.get("name") == SLOT and event.get("value")
               for event in events)


def answers(turn: Turn, question: str) -> bool:
    """The reply is an answer to the offer's question: a yes or no to the offer, or anything but a
    question, a request for a person or a goodbye when a number was asked for (the action then
    reads the number, or says it could not)."""
    if turn.intent in NOT_ANSWERS:
        return False
    if PHONE_LIKE.search(turn.text or ""):
        return True
    return turn.polarity in ("affirm", "deny") if question == OFFERED else True
