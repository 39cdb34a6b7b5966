"""Build rasa_sdk Trackers from event dicts and run actions against a real, migrated database."""
from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import create_engine, text

from actions import common
from storage.migrate import upgrade


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    """Each test gets its own SQLite database with the project's tables."""
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    monkeypatch.setenv("CLINIC_DATABASE_URL", url)
    monkeypatch.setenv("CLINIC_EMERGENCY_NUMBER", "112")
    monkeypatch.setenv("CLINIC_PHONE", "01632 960000")
    upgrade(url)
    common.repository.cache_clear()
    yield create_engine(url)
    getattr(common.repository, "cache_clear", lambda: None)()  # a test may have replaced it


def rows(engine, table: str) -> list[dict]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(text(f"SELECT * FROM {table}"))]


def make_tracker(events: list[dict], slots: dict | None = None, sender: str = "patient-1") -> Tracker:
    latest = next((e for e in reversed(events) if e["event"] == "user"), {})
    message = dict(latest.get("parse_data") or {}, text=latest.get("text"))
    loops = [e.get("name") for e in events if e["event"] == "active_loop"]
    return Tracker(sender, dict(slots or {}), message, events, False, None,
                   {"name": loops[-1]} if loops and loops[-1] else {}, "action_listen")


async def run(action, tracker: Tracker, domain: dict | None = None) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain or {}) if _is_async(action) else action.run(
        dispatcher, tracker, domain or {})
    return events, dispatcher.messages


def _is_async(action) -> bool:
    import inspect

    return inspect.iscoroutinefunction(action.run)
