"""Where Rasa keeps conversations and per-conversation locks, and how it announces new events,
chosen from the environment.

ClinicTrackerStore: Rasa's SQL tracker store on CLINIC_DATABASE_URL (SQLite file by default,
PostgreSQL in production). Connections are checked before use and reads/writes are retried for
up to CLINIC_DB_RETRY_SECONDS, so a database restart loses no event: the turn waits, then is
stored. A longer outage fails the turn (bot/runtime.py), never the stored conversation.
ClinicEventBroker: Rasa's Pika broker to RabbitMQ when CLINIC_RABBITMQ_URL is set, else none (the
projector worker then polls). After each commit the tracker store publishes one message without
text or conversation id (storage/stream.py); Rasa's own streaming would publish every event's full
content, before the commit (a wake-up could come before the rows are readable, or for a turn that
is never stored), after reading the whole tracker once more on every turn.
ClinicLockStore: Redis when CLINIC_REDIS_URL is set (several Rasa replicas share conversations),
else in memory. If Redis goes away, each replica falls back to its own in-memory locks (degraded:
a conversation stays consistent as long as its messages reach one replica, which the proxy's
sticky sessions ensure) and returns to Redis when it is back.
"""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Optional, Text
from urllib.parse import urlparse

import sqlalchemy as sa
from rasa.core.brokers.pika import PikaEventBroker
from rasa.core.lock import TicketLock
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from bot import runtime  # noqa: F401  (a tracker store failure fails the turn)
from bot.redis_fallback import RedisFallback
from clinic.settings import get_settings
from storage import stream

logger = logging.getLogger(__name__)
# How long a turn waits for the database before it fails (bot/runtime.py, item 3); below the
# proxy's 60 s read timeout even when a read and a save both wait.
DB_RETRY_SECONDS = get_settings().db_retry_seconds


def tracker_store_arguments(database_url: str) -> dict[str, Any]:
    """Rasa's SQLTrackerStore keyword arguments for a SQLAlchemy URL."""
    url = make_url(database_url)
    dialect = url.drivername
    if dialect.startswith("sqlite"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        return {"dialect": "sqlite", "db": url.database}
    return {"dialect": dialect, "host": url.host, "port": url.port, "db": url.database,
            "username": url.username, "password": url.password, "query": dict(url.query) or None}


async def _retrying(operation, what: str):
    deadline = time.monotonic() + DB_RETRY_SECONDS
    delay = 0.2
    while True:
        try:
            return await operation()
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError) as error:
            if time.monotonic() > deadline:
                raise
            logger.warning("Database unavailable while trying to %s (%s); retrying", what, type(error).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


class ClinicTrackerStore(SQLTrackerStore):
    def __init__(self, domain: Optional[Domain] = None, host: Optional[Text] = None, event_broker=None,
                 **kwargs: Any) -> None:
        settings = get_settings()
        super().__init__(domain=domain, event_broker=event_broker,
                         **tracker_store_arguments(settings.database_url), **kwargs)
        # Rasa's engine does not test pooled connections; after a database restart the first
        # use of a stale connection would fail. pool_pre_ping replaces dead connections.
        # hide_parameters: a database error names no message text in the logs.
        self.engine = sa.create_engine(self.engine.url, pool_pre_ping=True, hide_parameters=True,
                                       **create_engine_kwargs(self.engine.url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")

    async def save(self, tracker: DialogueStateTracker) -> None:
        await _retrying(lambda: super(ClinicTrackerStore, self).save(tracker), "save a conversation")
        if self.event_broker is not None:
            self.event_broker.publish(stream.stored_message())

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Rasa calls this before storing; save() announces the events once they are stored."""

    async def _retrieve(self, sender_id: Text, fetch_events_from_all_sessions: bool):
        return await _retrying(
            lambda: super(ClinicTrackerStore, self)._retrieve(sender_id, fetch_events_from_all_sessions),
            "read a conversation")


class ClinicLockStore(LockStore):
    def __init__(self, host: Optional[Text] = None, **kwargs: Any) -> None:
        import redis

        self.memory = InMemoryLockStore()
        self.redis: RedisLockStore | None = None
        url = get_settings().redis_url
        if url:
            parsed = urlparse(url)
            self.redis = RedisLockStore(host=parsed.hostname or "localhost", port=parsed.port or 6379,
                                        db=int(parsed.path.lstrip("/") or 0), password=parsed.password,
                                        use_ssl=parsed.scheme == "rediss", key_prefix="clinic")
        self.fallback = RedisFallback("Lock store", self.redis is not None, logger,
                                      (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError))

    @property
    def mode(self) -> str:
        return self.fallback.mode

    def _call(self, method: str, *args: Any):
        return self.fallback.call(lambda: getattr(self.redis, method)(*args),
                                  lambda: getattr(self.memory, method)(*args))

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        return self._call("get_lock", conversation_id)

    def delete_lock(self, conversation_id: Text) -> None:
        self._call("delete_lock", conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        self._call("save_lock", lock)


class ClinicEventBroker(PikaEventBroker):
    """Rasa's Pika broker on CLINIC_RABBITMQ_URL, publishing to the fanout exchange the projector
    workers' queues are bound to (each worker declares its own; none is declared here, so nothing
    accumulates in RabbitMQ when no worker runs). A message that cannot be published is dropped,
    not kept: the worker's polling finds the events anyway."""

    @classmethod
    async def from_endpoint_config(cls, broker_config, event_loop=None) -> "ClinicEventBroker | None":
        url = get_settings().rabbitmq_url
        if not url:
            return None
        parsed = urlparse(url)
        # Rasa logs `host` (at ERROR when a publish fails): the host name only, no password.
        broker = cls(parsed.hostname or "localhost", username=parsed.username or "guest",
                     password=parsed.password or "guest", port=parsed.port or 5672,
                     exchange_name=stream.EXCHANGE, should_keep_unpublished_messages=False,
                     event_loop=event_loop, **broker_config.kwargs)
        broker.url = url
        await broker.connect()
        return broker

    def _configure_url(self) -> str:
        return self.url     # as given: virtual host, TLS parameters

    @staticmethod
    def _get_queues_from_args(queues_arg) -> tuple:
        return ()

    async def _set_up_exchange(self, channel):
        return await stream.declare_exchange(channel)

    async def close(self) -> None:
        """Lets the last publishes finish (Rasa's close would cancel them), then closes."""
        if self._background_tasks:
            await asyncio.wait(set(self._background_tasks), timeout=5)
        await super().close()
