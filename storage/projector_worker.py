"""The projector worker: keeps the console's summaries, triage outcomes and search text current.

    python -m storage.projector_worker          # until SIGTERM or Ctrl-C (make run and compose start it)
    python -m storage.projector_worker --check  # health: fails if stored events wait too long

It projects every event above the watermark (storage/projector.py), then waits for the next wake-up
from Rasa's event broker (storage/stream.py: CLINIC_RABBITMQ_URL) or, without RabbitMQ (make run)
or while it is unreachable, polls the events table. The events table stays the source of truth:
a worker killed at any point rolls back its batch, and on start it re-reads everything above the
stored watermark, so it loses nothing and, projecting idempotently, doubles nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from clinic.settings import get_settings
from storage import projector, redaction, stream
from storage.db import get_engine, session_factory
from storage.models import Event, ProjectorState

log = logging.getLogger("storage.projector_worker")

BATCH_SIZE = 1000
POLL_SECONDS = 0.5          # without wake-ups
FALLBACK_POLL_SECONDS = 5.0  # with wake-ups: what a lost message can cost
COALESCE_SECONDS = 0.05     # after a wake-up, so a burst of turns is projected in one batch
DATABASE_RETRY_SECONDS = 2.0
# --check fails when an event has waited longer than this (past GAP_PATIENCE, which a hole may wait).
HEALTHY_LAG = projector.GAP_PATIENCE.total_seconds() + 60
REPORT_SECONDS = 300


async def run(engine: Engine, rabbitmq_url: str, stop: asyncio.Event,
              poll_seconds: float = POLL_SECONDS) -> None:
    """Project until `stop` is set."""
    cursor = projector.EventCursor()
    wakeups = stream.Wakeups(rabbitmq_url) if rabbitmq_url else None
    listener = asyncio.create_task(wakeups.listen()) if wakeups else None
    log.info("projector worker started (%s)", "woken by RabbitMQ" if wakeups
             else f"polling every {poll_seconds:g} s")
    projected, reported_at, database_down = 0, time.monotonic(), False
    try:
        while not stop.is_set():
            if wakeups:
                wakeups.event.clear()       # a wake-up during the step below means: step again
            try:
                read = await asyncio.to_thread(cursor.step, engine, BATCH_SIZE)
            except DBAPIError as error:
                if not database_down:
                    log.warning("database unavailable (%s); retrying every %g s", type(error).__name__,
                                DATABASE_RETRY_SECONDS)
                database_down = True
                await _wait(stop, None, DATABASE_RETRY_SECONDS)
                continue
            if database_down:
                log.info("database back; catching up")
                database_down = False
            projected += read or 0
            if time.monotonic() - reported_at > REPORT_SECONDS:
                log.info("projected %d event rows; watermark %s, %d hole(s)", projected,
                         cursor.watermark, len(cursor.holes))
                projected, reported_at = 0, time.monotonic()
            if read is not None and not cursor.caught_up:
                continue
            woken = wakeups.event if wakeups and wakeups.connected else None
            await _wait(stop, woken, FALLBACK_POLL_SECONDS if woken else poll_seconds)
            if woken and woken.is_set():
                await asyncio.sleep(COALESCE_SECONDS)
    finally:
        if listener:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        log.info("projector worker stopped")


async def _wait(stop: asyncio.Event, woken: asyncio.Event | None, seconds: float) -> None:
    waits = [asyncio.create_task(stop.wait())] + ([asyncio.create_task(woken.wait())] if woken else [])
    _, pending = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()


def backlog(engine: Engine) -> tuple[int, float]:
    """(events above the stored watermark, seconds the oldest of them has waited)."""
    with session_factory(engine)() as session:
        watermark = session.execute(select(ProjectorState.last_event_id).where(
            ProjectorState.name == projector.STATE_NAME)).scalar() or 0
        count, oldest = session.execute(select(func.count(), func.min(Event.timestamp))
                                        .where(Event.id > watermark)).one()
    return count, 0.0 if oldest is None else max(0.0, time.time() - oldest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 if an event has waited more than {HEALTHY_LAG:g} s")
    args = parser.parse_args(argv)
    settings = get_settings()
    engine = get_engine(settings.database_url)
    if args.check:
        waiting, lag = backlog(engine)
        print(f"{waiting} event(s) waiting; the oldest for {lag:.1f} s")
        return 0 if lag <= HEALTHY_LAG else 1

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))    # while starting
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aiormq", "aio_pika", "presidio-analyzer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # spaCy (for redaction) imports TensorFlow when it is installed, as Rasa's is: ~10 s of
    # start-up for a library this process never uses.
    for unused in ("tensorflow", "torch"):
        sys.modules.setdefault(unused, None)
    log.info("redaction engine: %s", redaction.engine_name())   # loaded before the first batch

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run(engine, settings.rabbitmq_url, stop)

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
