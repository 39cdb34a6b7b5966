"""Rasa event dicts for tests, with NLU entities from the real extractor (bot/components.py)."""
from __future__ import annotations

import itertools

from bot.components import entities_for
from knowledge.nlp.pipeline import analyse

_clock = itertools.count(1_764_000_000)


def user(text: str, intent: str = "describe_symptoms", confidence: float = 0.95) -> dict:
    entities = [] if text.startswith("/") else entities_for(analyse(text))
    return {"event": "user", "timestamp": float(next(_clock)), "text": text, "input_channel": "rest",
            "parse_data": {"text": text, "intent": {"name": intent, "confidence": confidence},
                           "entities": entities}}


def bot(text: str = "...", ask: str | None = None, custom: dict | None = None, utter: str | None = None) -> dict:
    custom = dict(custom or {}, **({"ask": ask} if ask else {}))
    return {"event": "bot", "timestamp": float(next(_clock)), "text": text,
            "data": {"custom": custom or None}, "metadata": {"utter_action": utter} if utter else {}}


def action(name: str) -> dict:
    return {"event": "action", "timestamp": float(next(_clock)), "name": name}


def slot(name: str, value) -> dict:
    return {"event": "slot", "timestamp": float(next(_clock)), "name": name, "value": value}


def loop(name: str | None) -> dict:
    return {"event": "active_loop", "timestamp": float(next(_clock)), "name": name}


def asked(question: str) -> list[dict]:
    """The triage form asking a question, as the tracker records it."""
    return [action("triage_form"), slot("requested_slot", question), bot(ask=question, utter=f"utter_ask_{question}")]
