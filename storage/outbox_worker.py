"""The webhook worker: posts the outbox (storage/outbox.py) to CLINIC_WEBHOOK_URL.

  python -m storage.outbox_worker              run until stopped (SIGTERM / Ctrl-C)
  python -m storage.outbox_worker --once       deliver what is due now, then exit
  python -m storage.outbox_worker --healthcheck  exit 0 while the worker's loop is alive

Exits at once (status 0) when CLINIC_WEBHOOK_URL is unset: the webhook is off. Each message is
posted alone, with its idempotency key and an HMAC signature (docs/webhook.md); a batch of due
messages (one per conversation) is posted by a few threads at once, and the results are written in
the transaction that claimed the batch.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from clinic.settings import VAR_DIR, Settings, get_settings, with_secret_key
from storage.db import get_engine, session_factory
from storage.fhir_export import WEBHOOK, build_bundle, wire_json
from storage.models import utcnow
from storage.outbox import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    OutboxPolicy,
    claim_due,
    enqueue_reconciled,
    is_retryable,
    mark_delivered,
    mark_failed_attempt,
    retry_delay,
    signature,
)

log = logging.getLogger("storage.outbox_worker")

HEARTBEAT = VAR_DIR / "outbox-worker.heartbeat"
HEARTBEAT_STALE_SECONDS = 120
HEARTBEAT_EVERY_SECONDS = 5
CONTENT_TYPES = {"fhir": "application/fhir+json", "json": "application/json"}


@dataclass
class Attempt:
    status: int | None          # HTTP status, None when nothing answered
    error: str | None           # None when delivered
    retry_after: float | None = None


def render(payload: dict, fmt: str, key: str) -> bytes:
    """The body posted for a frozen outbox record: the same bytes on every attempt."""
    if fmt == "fhir":
        return build_bundle(payload, WEBHOOK, key, message=payload).json().encode()
    return json.dumps(wire_json(payload, WEBHOOK, key), sort_keys=True).encode()


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None   # an HTTP date: use our own back-off


class Worker:
    def __init__(self, engine: Engine, settings: Settings, *, batch_size: int = 100,
                 concurrency: int = 4, poll_seconds: float = 0.5, sweep_seconds: float = 30.0):
        if not settings.webhook_url:
            raise ValueError("CLINIC_WEBHOOK_URL is not set")
        if not settings.webhook_secret:
            raise ValueError("set CLINIC_WEBHOOK_SECRET: every message is signed with it")
        self.settings = with_secret_key(settings)
        self.sessions = session_factory(engine)
        self.policy = OutboxPolicy.from_settings(settings)
        self.batch_size, self.concurrency = batch_size, concurrency
        self.poll_seconds, self.sweep_seconds = poll_seconds, sweep_seconds
        self.stopping = threading.Event()
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook")
        self._last_sweep = 0.0

    def _http(self) -> requests.Session:
        if not hasattr(self._local, "http"):
            self._local.http = requests.Session()
        return self._local.http

    def post(self, payload: dict) -> Attempt:
        settings = self.settings
        try:
            body = render(payload, settings.webhook_format, settings.secret_key)
        except Exception as error:  # noqa: BLE001 - a record that cannot be rendered is kept as failed
            return Attempt(None, f"could not build the message: {type(error).__name__}")
        headers = {"Content-Type": CONTENT_TYPES[settings.webhook_format],
                   IDEMPOTENCY_HEADER: payload["idempotency_key"],
                   SIGNATURE_HEADER: signature(settings.webhook_secret, body, int(time.time())),
                   "User-Agent": "clinic-triage-outbox/1"}
        try:
            response = self._http().post(settings.webhook_url, data=body, headers=headers,
                                         timeout=settings.webhook_timeout_seconds,
                                         allow_redirects=False)
        except requests.RequestException as error:
            return Attempt(None, f"no answer: {type(error).__name__}")
        if 200 <= response.status_code < 300:
            return Attempt(response.status_code, None)
        return Attempt(response.status_code, f"HTTP {response.status_code}",
                       _retry_after(response.headers.get("Retry-After")))

    def run_once(self) -> int:
        """Post one batch of due messages; returns how many were attempted."""
        self._sweep()
        with self.sessions() as session, session.begin():
            messages = claim_due(session, self.batch_size)
            if not messages:
                return 0
            attempts = list(self._pool.map(self.post, [message.payload for message in messages]))
            now = utcnow()
            for message, attempt in zip(messages, attempts, strict=True):
                if attempt.error is None:
                    mark_delivered(message, now)
                    continue
                retryable = attempt.error.startswith(("HTTP", "no answer")) and \
                    is_retryable(attempt.status)
                delay = retry_delay(message.attempts + 1, self.settings.webhook_retry_first_seconds,
                                    self.settings.webhook_retry_max_seconds)
                if attempt.retry_after is not None:
                    delay = min(max(delay, attempt.retry_after), self.settings.webhook_retry_max_seconds)
                mark_failed_attempt(message, now, attempt.error, retryable=retryable,
                                    max_attempts=self.settings.webhook_max_attempts,
                                    delay_seconds=delay)
                log.warning("outbox message %d (%s, attempt %d): %s%s", message.id, message.kind,
                            message.attempts, attempt.error,
                            "; kept as failed" if message.status == "failed" else "")
            delivered = sum(attempt.error is None for attempt in attempts)
        if delivered:
            log.info("delivered %d outbox message(s)", delivered)
        return len(messages)

    def _sweep(self) -> None:
        if time.monotonic() - self._last_sweep < self.sweep_seconds:
            return
        with self.sessions() as session, session.begin():
            added = enqueue_reconciled(session, self.policy)
        self._last_sweep = time.monotonic()
        if added:
            log.info("added %d reconciled outcome(s) to the outbox", added)

    def run(self) -> None:
        """Until stop(): a database error (a restart, a dropped connection) only pauses delivery;
        what was being posted stays pending and is posted again with the same key."""
        failures, last_beat = 0, 0.0
        while not self.stopping.is_set():
            try:
                busy = self.run_once()
                failures = 0
            except exc.SQLAlchemyError as error:
                failures += 1
                log.warning("outbox: database error (%s); retrying", type(error).__name__)
                busy = 0
                self.stopping.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))
            if time.monotonic() - last_beat > HEARTBEAT_EVERY_SECONDS:
                _beat()
                last_beat = time.monotonic()
            if not busy:
                self.stopping.wait(self.poll_seconds)

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _beat() -> None:
    try:
        HEARTBEAT.parent.mkdir(parents=True, exist_ok=True)
        HEARTBEAT.write_text(str(time.time()))
    except OSError:
        pass


def healthy(path: Path = HEARTBEAT) -> bool:
    try:
        return time.time() - float(path.read_text()) < HEARTBEAT_STALE_SECONDS
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storage.outbox_worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    parser.add_argument("--healthcheck", action="store_true",
                        help="exit 0 if the webhook is off or the worker's loop is alive")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    if not settings.webhook_url:
        if not args.healthcheck:
            print("CLINIC_WEBHOOK_URL is not set: the webhook is off", flush=True)
        return 0
    if args.healthcheck:
        return 0 if healthy() else 1
    try:
        worker = Worker(get_engine(settings.database_url), settings, batch_size=args.batch_size,
                        concurrency=args.concurrency)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    if args.once:
        while worker.run_once():
            pass
        worker.close()
        return 0
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    log.info("posting the outbox to the clinic's webhook (%s format)", settings.webhook_format)
    try:
        worker.run()
    except KeyboardInterrupt:
        pass
    finally:
        worker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
