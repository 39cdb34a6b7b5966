"""The projector worker keeps the console's summaries current from the event stream (issue 15).

Conversations are stored through the project's tracker store with the event broker Rasa builds
from bot/endpoints.yml (RabbitMQ here); the worker runs as `make run` and compose start it.
"""
from __future__ import annotations

import asyncio
import signal
import time

import pytest
from sqlalchemy import func, select

from storage import projector
from storage.db import session_factory
from storage.models import Conversation, TriageOutcome
from storage.projector_worker import backlog
from testing import stream

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]

SHOWN_WITHIN_SECONDS = 10
CONVERSATIONS = 200
PER_SECOND, TURN_GAP_SECONDS = 20, 2.0
KILLED_AT, DOWN_FOR = 60, 40     # conversation indexes: down for 2 s of traffic, then restarted


def summaries(engine) -> dict[str, tuple]:
    with session_factory(engine)() as session:
        return {c.sender_id: (c.preview, c.search_text, c.max_level, c.urgency_rank, c.red_flags,
                              c.consent, c.started_at, c.last_activity_at, c.latest_outcome_id)
                for c in session.execute(select(Conversation)).scalars()}


def outcomes(engine) -> list[tuple]:
    with session_factory(engine)() as session:
        return sorted(session.execute(select(TriageOutcome.conversation_id, TriageOutcome.event_key,
                                             TriageOutcome.level, TriageOutcome.source)).all())


def wait_until_shown(engine, expected: dict[str, str], seconds: float) -> float:
    """Seconds until every conversation's row shows its first message; fails after `seconds`."""
    started = time.monotonic()
    while True:
        with session_factory(engine)() as session:
            shown = dict(session.execute(select(Conversation.sender_id, Conversation.preview)).all())
        missing = [sender for sender, first in expected.items() if shown.get(sender) != first]
        if not missing:
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, \
            f"{len(missing)} of {len(expected)} conversations not shown after {seconds} s"
        time.sleep(0.1)


def wait_until_caught_up(engine) -> None:
    """Every stored event projected (the last turns' outcomes too)."""
    deadline = time.monotonic() + SHOWN_WITHIN_SECONDS
    while backlog(engine)[0]:
        assert time.monotonic() < deadline, "events still waiting"
        time.sleep(0.1)


def started(worker, log, seconds: float = 120) -> None:
    """Wait for the worker to be up (as it is before patients come), however loaded the machine."""
    deadline = time.monotonic() + seconds
    while not log.exists() or "projector worker started" not in log.read_text(errors="replace"):
        assert worker.poll() is None and time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.1)


def test_a_worker_killed_and_restarted_mid_stream_loses_and_doubles_nothing(engine, pg_url, tmp_path):
    log = tmp_path / "worker.log"
    workers = [stream.projector_worker(pg_url, stream.RABBITMQ_URL, log)]
    started(workers[0], log)
    t0 = time.time()
    held = {f"held-{i:03d}": stream.conversation(i, t0) for i in range(CONVERSATIONS)}
    killed_at = []

    def kill_then_restart(index: int, _seconds: float) -> None:
        if not killed_at and index >= KILLED_AT and summaries(engine):   # the worker is at work
            workers[0].send_signal(signal.SIGKILL)   # mid-stream, most likely mid-batch
            workers[0].wait()
            killed_at.append(index)
        elif killed_at and len(workers) == 1 and index >= killed_at[0] + DOWN_FOR:
            assert len(summaries(engine)) <= index
            workers.append(stream.projector_worker(pg_url, stream.RABBITMQ_URL, log))

    async def scenario():
        store = await stream.tracker_store(pg_url, stream.RABBITMQ_URL)
        try:
            await stream.hold(store, held, PER_SECOND, TURN_GAP_SECONDS, kill_then_restart)
        finally:
            await store.event_broker.close()

    try:
        asyncio.run(scenario())
        wait_until_shown(engine, {s: stream.first_message(i) for i, s in enumerate(held)},
                         SHOWN_WITHIN_SECONDS)
        wait_until_caught_up(engine)
    finally:
        workers[-1].terminate()
        assert workers[-1].wait(timeout=20) == 0, "SIGTERM stops it cleanly"
    assert len(workers) == 2, "killed and restarted"

    senders = list(held)
    projected, recorded = summaries(engine), outcomes(engine)
    assert sorted(projected) == senders
    assert [(c, level) for c, _, level, _ in recorded] == [
        (s, "emergency" if i % 4 == 0 else "self_care") for i, s in enumerate(senders)], \
        "one outcome per conversation, each reconciled from its bot event once"
    for i, sender in enumerate(senders):
        assert projected[sender][1].count(stream.marker(i)) == 1
    projector.rebuild(engine)                   # from the events alone, in one pass
    assert summaries(engine) == projected and outcomes(engine) == recorded
    assert not any(stream.marker(i) in log.read_text() for i in range(CONVERSATIONS)), "no text in its log"


def test_without_rabbitmq_the_worker_polls_the_events_table(engine, pg_url, tmp_path):
    """make run: no server but the database; a turn shows within a poll or two."""
    worker = stream.projector_worker(pg_url, "", tmp_path / "worker.log")
    started(worker, tmp_path / "worker.log")

    async def one_conversation():
        store = await stream.tracker_store(pg_url, "")
        assert store.event_broker is None
        await stream.hold(store, {"polled": stream.conversation(1, time.time())}, 1, 0.5)

    try:
        asyncio.run(one_conversation())
        wait_until_shown(engine, {"polled": stream.first_message(1)}, SHOWN_WITHIN_SECONDS)
        wait_until_caught_up(engine)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    with session_factory(engine)() as session:
        assert session.execute(select(func.count()).select_from(TriageOutcome)).scalar() == 1
