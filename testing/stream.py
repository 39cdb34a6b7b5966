"""Holding conversations the way Rasa stores them, for the event stream's tests and benchmark.

Each turn is saved through the project's tracker store (Rasa's SQLTrackerStore) with the event
broker Rasa would build from bot/endpoints.yml, so the events table and the RabbitMQ wake-ups are
exactly what a running bot produces, without the cost of NLU and policies.
"""
from __future__ import annotations

import asyncio
import string
import subprocess
import sys
import time
from pathlib import Path

from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from clinic.settings import child_environment, environment, environment_set
from testing import synthetic
from testing.servers import RABBITMQ_URL  # noqa: F401  (the tests' and benchmark's RabbitMQ)

ROOT = Path(__file__).resolve().parent.parent


def marker(index: int) -> str:
    """A made-up word, different for each index, that redaction keeps: findable by search."""
    letters = string.ascii_lowercase
    return f"q{letters[index // 676 % 26]}{letters[index // 26 % 26]}{letters[index % 26]}x"


def first_message(index: int) -> str:
    return f"my calf cramps at night since the run, note {marker(index)}"


def conversation(index: int, t0: float) -> list[dict]:
    """Every fourth an emergency (outcome only in the bot event), the others self-care."""
    build = synthetic.cauda_equina_conversation if index % 4 == 0 else synthetic.calf_cramp_conversation
    return build(t0, first_message=first_message(index))


def turns(events: list[dict]) -> list[list[dict]]:
    """The tracker's events after each turn: a turn ends before the next user message."""
    ends = [i for i, event in enumerate(events) if event["event"] == "user" and i > 0][1:]
    return [events[:end] for end in ends] + [events]


async def tracker_store(database_url: str, rabbitmq_url: str):
    """The project's tracker store and event broker, as Rasa builds them from bot/endpoints.yml,
    on these servers (rabbitmq_url "" = no broker, as under `make run`)."""
    from bot.stores import ClinicTrackerStore

    # endpoints.yml also names the action server's URL and token (not used here).
    with environment_set(CLINIC_DATABASE_URL=database_url, CLINIC_RABBITMQ_URL=rabbitmq_url,
                     CLINIC_ACTION_SERVER_URL=environment().get("CLINIC_ACTION_SERVER_URL", "http://127.0.0.1:9/"),
                     CLINIC_ACTION_SERVER_TOKEN=environment().get("CLINIC_ACTION_SERVER_TOKEN", "")):
        broker = await EventBroker.create(read_endpoint_config(str(ROOT / "bot" / "endpoints.yml"),
                                                               "event_broker"))
        return ClinicTrackerStore(event_broker=broker)



async def save_turn(store, sender_id: str, events: list[dict]) -> None:
    await store.save(DialogueStateTracker.from_dict(sender_id, events))


def schedule(conversations: dict[str, list[dict]], per_second: float, turn_gap: float,
             share: tuple[int, int] = (0, 1)) -> list[tuple[float, int, str, list[dict]]]:
    """(seconds from the start, conversation index, sender id, the tracker's events) for each
    turn: a new conversation every 1/per_second s, its turns turn_gap s apart. share=(k, n): the
    conversations are every n-th of all, starting at the k-th (one of n Rasa processes)."""
    first, every = share
    due = [((first + position * every) / per_second + turn * turn_gap, position, sender, events)
           for position, (sender, conversation) in enumerate(conversations.items())
           for turn, events in enumerate(turns(conversation))]
    return sorted(due, key=lambda item: item[:2])


async def hold(store, conversations: dict[str, list[dict]], per_second: float, turn_gap: float,
               on_turn=None, share: tuple[int, int] = (0, 1)) -> list[tuple[str, float, float]]:
    """Save every turn at its time (saves run one after another, as one Rasa process does).
    Returns (sender id, its last event's timestamp, when it was stored: time.time()) per turn;
    on_turn(index of the conversation, seconds since the start) is called before each save."""
    started = time.monotonic()
    stored = []
    for at, index, sender, events in schedule(conversations, per_second, turn_gap, share):
        await asyncio.sleep(max(0.0, at - (time.monotonic() - started)))
        if on_turn:
            on_turn(index, time.monotonic() - started)
        await save_turn(store, sender, events)
        stored.append((sender, events[-1]["timestamp"], time.time()))
    return stored


def projector_worker(database_url: str, rabbitmq_url: str, log_path: Path) -> subprocess.Popen:
    """`python -m storage.projector_worker` on these servers, as make run and compose start it."""
    env = child_environment(PYTHONPATH=str(ROOT), CLINIC_DATABASE_URL=database_url,
               CLINIC_RABBITMQ_URL=rabbitmq_url, TF_CPP_MIN_LOG_LEVEL="3")
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "storage.projector_worker"], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
