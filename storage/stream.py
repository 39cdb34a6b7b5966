"""The event stream between Rasa and the projector worker, on RabbitMQ.

Rasa's event broker (bot/stores.py: ClinicEventBroker, Rasa's Pika broker) publishes one message to
the EXCHANGE each time the tracker store has committed a turn's events. The message carries no
conversation id and no text: it only wakes the worker, which reads the events themselves from the
events table (the source of truth). Each worker listens on its own exclusive queue, so nothing piles
up in RabbitMQ while no worker runs; a worker that starts catches up from the table.
"""
from __future__ import annotations

import asyncio
import logging
import time

import aio_pika

log = logging.getLogger(__name__)

EXCHANGE = "clinic-events"
RECONNECT_SECONDS = 5.0


def stored_message() -> dict:
    """What the tracker store publishes after each commit."""
    return {"event": "events_stored", "timestamp": time.time()}


async def declare_exchange(channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractExchange:
    """The one declaration both ends make (RabbitMQ refuses a second one that differs)."""
    return await channel.declare_exchange(EXCHANGE, type=aio_pika.ExchangeType.FANOUT, durable=True)


class Wakeups:
    """Listens on RabbitMQ and sets `event` at each message; reconnects until cancelled. While it
    is not connected, `connected` is False and the worker polls."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.event = asyncio.Event()
        self.connected = False

    async def listen(self) -> None:
        while True:
            try:
                connection = await aio_pika.connect(self.url, timeout=10)
            except (OSError, asyncio.TimeoutError, aio_pika.exceptions.AMQPError) as error:
                log.warning("RabbitMQ unreachable (%s); polling the events table meanwhile",
                            type(error).__name__)
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            closed = asyncio.Event()
            connection.close_callbacks.add(lambda *_, closed=closed: closed.set())
            try:
                channel = await connection.channel()
                queue = await channel.declare_queue(exclusive=True, auto_delete=True)
                await queue.bind(await declare_exchange(channel))
                await queue.consume(self._on_message, no_ack=True)
                self.connected = True
                self.event.set()    # anything stored while it was not listening
                log.info("listening for stored events on RabbitMQ")
                await closed.wait()
                log.warning("RabbitMQ connection lost; polling the events table meanwhile")
            except aio_pika.exceptions.AMQPError as error:
                log.warning("RabbitMQ error (%s); reconnecting", type(error).__name__)
            finally:
                self.connected = False
                if not connection.is_closed:
                    await connection.close()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _on_message(self, _message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.event.set()
