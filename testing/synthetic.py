"""Realistic Rasa event rows and throwaway PostgreSQL databases, for the tests and the benchmark.

Events are built the way Rasa 3.6's SQL tracker store writes them: one row per event, with
type_name, timestamp, intent_name (user events), action_name (the event's "name") and the
event's as_dict() as JSON in `data`.
"""
from __future__ import annotations

import contextlib
import json
import secrets
import uuid
from collections.abc import Iterator

import psycopg2
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection, make_url

from clinic.settings import ToolSettings
from storage.db import dispose_engine
from storage.migrate import upgrade
from storage.models import Event, metadata

POSTGRES_ADMIN_URL = ToolSettings().test_postgres_url


# --- events -----------------------------------------------------------------------------------

def session_started(ts: float) -> dict:
    return {"event": "session_started", "timestamp": ts, "metadata": {}}


def action(ts: float, name: str) -> dict:
    return {"event": "action", "timestamp": ts, "name": name, "policy": "RulePolicy",
            "confidence": 1.0, "action_text": None, "hide_rule_turn": False, "metadata": {}}


def slot(ts: float, name: str, value) -> dict:
    return {"event": "slot", "timestamp": ts, "name": name, "value": value, "metadata": {}}


def finding(value: str, *, negated: bool = False, historical: bool = False,
            hypothetical: bool = False, role: str = "present") -> dict:
    return {"entity": "finding", "value": value, "start": 0, "end": len(value), "role": role,
            "extractor": "ClinicalFindingsExtractor",
            "assertion": {"negated": negated, "historical": historical,
                          "hypothetical": hypothetical, "experiencer": "patient"}}


def user(ts: float, text: str, intent: str = "describe_symptoms", *, entities: list | None = None,
         channel: str = "rest") -> dict:
    message_id = uuid.uuid4().hex
    return {"event": "user", "timestamp": ts, "metadata": {}, "text": text,
            "parse_data": {"intent": {"name": intent, "confidence": 0.97},
                           "entities": entities or [], "text": text, "message_id": message_id,
                           "metadata": {}},
            "input_channel": channel, "message_id": message_id}


def bot(ts: float, text: str, *, buttons: list[tuple[str, str]] | None = None,
        custom: dict | None = None) -> dict:
    data = {"elements": None, "quick_replies": None, "attachment": None, "image": None,
            "custom": custom,
            "buttons": [{"title": title, "payload": payload} for title, payload in buttons or []]
            or None}
    return {"event": "bot", "timestamp": ts, "metadata": {}, "text": text, "data": data}


def triage(level: str, *, red_flags: list[str] = (), rules: list[str] = (),
           plan: list[str] = (), reason: str = "", sources: list[str] = (),
           protocol_version: str = "2026.11.0", event_key: str | None = None) -> dict:
    payload = {"level": level, "red_flags": list(red_flags), "rules": list(rules),
               "protocol_version": protocol_version, "plan": list(plan), "reason": reason,
               "sources": list(sources)}
    if event_key:
        payload["event_key"] = event_key
    return {"triage": payload}


def event_row(sender_id: str, event: dict) -> dict:
    return {"sender_id": sender_id, "type_name": event["event"], "timestamp": event["timestamp"],
            "intent_name": (event.get("parse_data") or {}).get("intent", {}).get("name"),
            "action_name": event.get("name"), "data": json.dumps(event)}


def insert_events(connection: Connection, sender_id: str, events: list[dict]) -> None:
    connection.execute(insert(Event), [event_row(sender_id, event) for event in events])


def store_events(engine, sender_id: str, events: list[dict]) -> None:
    """Write a conversation's events in one transaction, as Rasa's tracker store does."""
    with engine.begin() as connection:
        insert_events(connection, sender_id, events)


# --- conversations ------------------------------------------------------------------------------

def cauda_equina_conversation(t0: float, *, consent: bool = True, channel: str = "rest",
                              first_message: str = "my back hurts and my legs feel weak"
                              ) -> list[dict]:
    """Low back pain with saddle numbness, answered with a button: an emergency."""
    return [
        session_started(t0), action(t0, "action_session_start"), action(t0, "action_listen"),
        slot(t0 + 1, "consent", consent),
        user(t0 + 5, first_message, entities=[finding("back_pain"),
                                               finding("leg_weakness")], channel=channel),
        bot(t0 + 6, "Have you noticed numbness around your bottom or genitals?",
            buttons=[("Yes", "/affirm"), ("No", "/deny")], custom={"ask": "cauda_equina"}),
        user(t0 + 12, "/affirm", "affirm", entities=[finding("saddle_numbness")],
             channel=channel),
        bot(t0 + 13, "Please call 999 or go to A&E now.", custom=triage(
            "emergency", red_flags=["cauda_equina"], rules=["cauda_equina.saddle_or_sphincter"],
            reason="Saddle numbness with back pain can mean cauda equina syndrome.",
            sources=["NICE CKS Sciatica", "GIRFT National Suspected CES pathway"])),
        action(t0 + 13, "action_listen"),
    ]


def calf_cramp_conversation(t0: float, *, consent: bool = True, channel: str = "rest",
                            first_message: str = "my calves cramp at night") -> list[dict]:
    """Night cramps without red flags, no past injury: self-care with a stretching plan."""
    return [
        session_started(t0), action(t0, "action_session_start"),
        slot(t0 + 1, "consent", consent),
        user(t0 + 4, first_message, entities=[finding("night_cramps")], channel=channel),
        bot(t0 + 5, "Have you had a calf injury before?",
            buttons=[("Yes", "/affirm"), ("No", "/deny")]),
        user(t0 + 9, "no never, and no swelling", "deny",
             entities=[finding("leg_injury", negated=True), finding("calf_swelling",
                                                                      negated=True)],
             channel=channel),
        bot(t0 + 10, "This sounds like ordinary night cramps. Gentle calf stretches help.",
            custom=triage("self_care", rules=[],
                          plan=["heel_walking", "gastrocnemius_stretch", "soleus_stretch"],
                          reason="Night cramps without swelling, redness or injury.",
                          sources=["NICE CKS Leg cramps"])),
    ]


# --- databases ----------------------------------------------------------------------------------

def _admin_connection():
    url = make_url(POSTGRES_ADMIN_URL)
    connection = psycopg2.connect(host=url.host, port=url.port or 5432, user=url.username,
                                  password=url.password, dbname=url.database or "postgres")
    connection.autocommit = True
    return connection


@contextlib.contextmanager
def temporary_database(prefix: str = "clinic_test", *, migrate: bool = True,
                       keep: bool = False) -> Iterator[str]:
    """A fresh PostgreSQL database with a random name; yields its URL, then drops it."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    url = str(make_url(POSTGRES_ADMIN_URL).set(database=name))
    admin = _admin_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        if migrate:
            upgrade(url)
        yield url
    finally:
        if not keep:
            dispose_engine(url)
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def empty_all_tables(engine) -> None:
    """Delete every row of every table but the migration version, between tests."""
    names = [table.name for table in reversed(metadata.sorted_tables)]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        else:
            for name in names:
                connection.execute(text(f"DELETE FROM {name}"))
