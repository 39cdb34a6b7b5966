"""The outbox to the clinic's webhook: written with the record, delivered once per idempotency key,
in order per conversation, through a receiver that is down and a database that drops the worker."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from clinic.settings import get_settings
from storage import retention
from storage.db import session_factory
from storage.models import OutboxMessage, TriageOutcome
from storage.outbox import OutboxPolicy, enqueue_reconciled, retry_failed
from storage.outbox_worker import Worker
from storage.repository import Repository, StorageWriteError
from testing import synthetic
from testing.webhook_receiver import Receiver

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
SECRET = "webhook-test-secret"
KEY = "test-secret-key"
ALL_LEVELS = OutboxPolicy(("emergency", "urgent", "routine", "self_care"))
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def outbox_repository(engine):
    return Repository(engine, retry_delays=(0.01, 0.01), outbox=ALL_LEVELS)


@pytest.fixture
def receiver():
    receiver = Receiver(SECRET).start()
    yield receiver
    receiver.stop()


def worker_settings(url: str, receiver: Receiver, **extra):
    return get_settings().copy(update={
        "database_url": url, "webhook_url": receiver.url, "webhook_secret": SECRET,
        "secret_key": KEY, "webhook_retry_first_seconds": 0.2, "webhook_retry_max_seconds": 1.0,
        **extra})


def outcome(repository, sender: str, number: int, level: str = "urgent") -> None:
    repository.record_outcome(
        conversation_id=sender, level=level, red_flags=[], rules=[], protocol_version="2026.11.0",
        plan=[], reason="A reason.", findings={"back_pain": "present"}, channel="rest",
        created_at=NOW + timedelta(seconds=number), event_key=f"user@{number}", sources=[])


def rows(engine) -> list[OutboxMessage]:
    with session_factory(engine)() as session:
        return session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()


def drain(worker: Worker, until=lambda: False, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not worker.run_once() and until():
            return
        time.sleep(0.05)
    raise AssertionError("the outbox did not drain in time")


def assert_exactly_once_in_order(receiver: Receiver, expected_keys: set[str]) -> None:
    accepted = receiver.accepted()
    assert set(accepted) == expected_keys, "lost or unexpected messages"
    bodies = defaultdict(set)
    for receipt in receiver.receipts:
        bodies[receipt.key].add(receipt.body_sha256)
    assert all(len(digests) == 1 for digests in bodies.values()), "a repeat differed"
    by_conversation = defaultdict(list)
    for receipt in sorted(accepted.values(), key=lambda r: r.at):
        by_conversation[receipt.conversation].append(receipt.sequence)
    for sequences in by_conversation.values():
        assert sequences == list(range(1, len(sequences) + 1)), sequences


# --- writing --------------------------------------------------------------------------------------

def test_an_outcome_and_a_consented_callback_are_queued_with_their_record(engine, outbox_repository):
    outcome(outbox_repository, "c-1", 1, "emergency")
    outcome(outbox_repository, "c-1", 1, "emergency")           # a retried write: no second message
    outbox_repository.record_handoff(conversation_id="c-1", contact_method="phone",
                                     contact_value="07700 900123", consented=True,
                                     level="emergency", channel="rest", created_at=NOW)
    outbox_repository.record_handoff(conversation_id="c-1", contact_method="phone",
                                     contact_value="", consented=False, level="emergency",
                                     channel="rest", created_at=NOW)

    queued = rows(engine)
    assert [(m.kind, m.sequence, m.status) for m in queued] == [
        ("triage_outcome", 1, "pending"), ("callback_request", 2, "pending")]
    assert queued[1].payload["callbacks"][0]["contact_value"] == "07700 900123"
    assert queued[1].payload["outcomes"][0]["level"] == "emergency"   # the context goes along
    assert len({m.idempotency_key for m in queued}) == 2


def test_only_the_configured_levels_are_queued_and_nothing_while_the_webhook_is_off(engine):
    urgent_only = Repository(engine, outbox=OutboxPolicy(("emergency", "urgent")))
    outcome(urgent_only, "lv-1", 1, "self_care")
    outcome(urgent_only, "lv-2", 1, "urgent")
    outcome(Repository(engine), "lv-3", 1, "emergency")
    assert [m.conversation_id for m in rows(engine)] == ["lv-2"]


def test_the_action_servers_repository_writes_the_outbox_only_when_the_webhook_is_set(engine, pg_url):
    settings = get_settings().copy(update={"database_url": pg_url, "webhook_levels": "emergency"})
    outcome(Repository.from_settings(settings.copy(update={"webhook_url": ""})), "set-1", 1, "emergency")
    outcome(Repository.from_settings(settings.copy(update={"webhook_url": "https://x.example/h"})),
            "set-2", 1, "emergency")
    outcome(Repository.from_settings(settings.copy(update={"webhook_url": "https://x.example/h"})),
            "set-3", 1, "urgent")
    assert [m.conversation_id for m in rows(engine)] == ["set-2"]


def test_the_outcome_is_not_stored_when_its_outbox_row_cannot_be(engine, outbox_repository, monkeypatch):
    import storage.repository as repository_module

    def broken(*_args, **_kwargs):
        raise ValueError("outbox row refused")
    monkeypatch.setattr(repository_module, "enqueue_outcome", broken)
    with pytest.raises(StorageWriteError):
        outcome(outbox_repository, "atomic-1", 1)
    with session_factory(engine)() as session:
        assert session.execute(select(TriageOutcome)).scalars().all() == []
    assert rows(engine) == []


def test_reconciled_outcomes_are_swept_into_the_outbox_once(engine):
    synthetic.store_events(engine, "rec-1", synthetic.cauda_equina_conversation(time.time() - 60))
    from storage import projector
    projector.catch_up(engine)
    with session_factory(engine)() as session, session.begin():
        assert enqueue_reconciled(session, ALL_LEVELS) == 1
    with session_factory(engine)() as session, session.begin():
        assert enqueue_reconciled(session, ALL_LEVELS) == 0
    [message] = rows(engine)
    assert (message.kind, message.level, message.conversation_id) == ("triage_outcome", "emergency", "rec-1")


def test_erasing_a_conversation_erases_its_outbox_messages(engine, outbox_repository):
    outcome(outbox_repository, "erase-1", 1)
    with session_factory(engine)() as session, session.begin():
        retention.erase_conversation(session, "erase-1", actor="test", audit_key=KEY)
    assert rows(engine) == []


# --- delivering -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["fhir", "json"])
def test_messages_arrive_signed_once_and_in_order_per_conversation(engine, pg_url, outbox_repository,
                                                                   receiver, fmt):
    for number in range(1, 4):
        for sender in ("ord-a", "ord-b"):
            outcome(outbox_repository, sender, number)
    worker = Worker(engine, worker_settings(pg_url, receiver, webhook_format=fmt))
    drain(worker, until=lambda: all(m.status == "delivered" for m in rows(engine)))
    worker.close()

    assert_exactly_once_in_order(receiver, {m.idempotency_key for m in rows(engine)})
    assert len(receiver.receipts) == 6
    assert all(receipt.signed for receipt in receiver.receipts)
    assert all(m.payload is None and m.attempts == 1 for m in rows(engine))
    body = json.loads(next(iter(receiver.bodies.values())))
    assert ("resourceType" in body) == (fmt == "fhir")


def test_a_refused_message_is_kept_as_failed_and_an_admins_retry_delivers_it(engine, pg_url,
                                                                             outbox_repository,
                                                                             receiver):
    outcome(outbox_repository, "fail-1", 1)
    outcome(outbox_repository, "fail-1", 2)
    receiver.status = 400
    worker = Worker(engine, worker_settings(pg_url, receiver))
    drain(worker, until=lambda: all(m.status == "failed" for m in rows(engine)))
    failed = rows(engine)
    assert [(m.attempts, m.last_error) for m in failed] == [(1, "HTTP 400"), (1, "HTTP 400")]
    assert failed[0].payload is not None          # kept for staff to see and retry

    receiver.status = 200
    with session_factory(engine)() as session, session.begin():
        assert retry_failed(session) == 2
    drain(worker, until=lambda: all(m.status == "delivered" for m in rows(engine)))
    worker.close()
    assert_exactly_once_in_order(receiver, {m.idempotency_key for m in rows(engine)})


def test_an_unavailable_receiver_is_retried_with_growing_waits(engine, pg_url, outbox_repository,
                                                               receiver):
    outcome(outbox_repository, "wait-1", 1)
    receiver.status = 503
    worker = Worker(engine, worker_settings(pg_url, receiver, webhook_retry_first_seconds=60,
                                            webhook_retry_max_seconds=600, webhook_max_attempts=3))
    worker.run_once()
    [message] = rows(engine)
    assert (message.status, message.attempts, message.last_error) == ("pending", 1, "HTTP 503")
    wait = (message.next_attempt_at - message.last_attempt_at).total_seconds()
    assert 30 <= wait <= 60
    assert worker.run_once() == 0                 # not due yet
    worker.close()


# --- faults: a receiver down for a minute, database connections dropped mid-delivery ------------

def start_worker(pg_url: str, receiver: Receiver, tmp_path: Path, **env) -> subprocess.Popen:
    """The worker as production runs it: its own process."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT), CLINIC_DATABASE_URL=pg_url,
                       CLINIC_WEBHOOK_URL=receiver.url, CLINIC_WEBHOOK_SECRET=SECRET,
                       CLINIC_SECRET_KEY=KEY, CLINIC_VAR_DIR=str(tmp_path),
                       CLINIC_WEBHOOK_RETRY_FIRST_SECONDS="0.5",
                       CLINIC_WEBHOOK_RETRY_MAX_SECONDS="4", **env)
    return subprocess.Popen([sys.executable, "-m", "storage.outbox_worker", "--batch-size", "20"],
                            cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def stop_worker(worker: subprocess.Popen) -> str:
    worker.send_signal(signal.SIGTERM)
    try:
        _, errors = worker.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        _, errors = worker.communicate()
    return errors


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def write_outcomes(repository, conversations: int, per_conversation: int) -> None:
    for number in range(1, per_conversation + 1):
        for index in range(conversations):
            outcome(repository, f"fault-{index}", number)


@pytest.mark.slow
def test_the_outbox_survives_a_receiver_down_for_a_minute(engine, pg_url, outbox_repository,
                                                          receiver, tmp_path):
    write_outcomes(outbox_repository, conversations=20, per_conversation=3)
    receiver.stop()                                  # down: every post is refused
    worker = start_worker(pg_url, receiver, tmp_path, CLINIC_WEBHOOK_MAX_ATTEMPTS="100")
    try:
        time.sleep(60)
        assert receiver.receipts == []
        assert {m.status for m in rows(engine)} == {"pending"}
        assert min(m.attempts for m in rows(engine)[:20]) >= 5, "it kept trying, backing off"
        for index in range(20):                      # written while the receiver is down
            outcome(outbox_repository, f"fault-{index}", 4)
        receiver.start()                             # back on the same port
        wait_until(lambda: all(m.status == "delivered" for m in rows(engine)), 60, "delivery")
    finally:
        errors = stop_worker(worker)
    assert_exactly_once_in_order(receiver, {m.idempotency_key for m in rows(engine)})
    assert len(receiver.accepted()) == 80
    assert "no answer: ConnectionError" in errors     # each refused post is logged, without content


WORKER_APP_NAME = "clinic-outbox-worker-test"


def _admin_cursor_run(pg_url: str, sql: str) -> int:
    url = make_url(pg_url)
    admin = psycopg2.connect(host=url.host, port=url.port or 5432, user=url.username,
                             dbname="postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql, (url.database, WORKER_APP_NAME))
            return cursor.fetchone()[0]
    finally:
        admin.close()


def _worker_in_transaction(pg_url: str) -> int:
    return _admin_cursor_run(pg_url, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                                     "AND application_name = %s AND state <> 'idle'")


def _terminate_worker_connections(pg_url: str) -> int:
    """What a PostgreSQL restart does to the worker: its connections dropped mid-transaction."""
    return _admin_cursor_run(pg_url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                     "WHERE datname = %s AND application_name = %s")


@pytest.mark.slow
def test_the_outbox_survives_database_connections_dropped_mid_delivery(engine, pg_url,
                                                                       outbox_repository, receiver,
                                                                       tmp_path):
    write_outcomes(outbox_repository, conversations=40, per_conversation=5)
    receiver.delay_seconds = 0.02                    # a batch takes a while: drops land mid-batch
    worker = start_worker(pg_url, receiver, tmp_path, PGAPPNAME=WORKER_APP_NAME)
    dropped = []
    try:
        # Drop the worker's connections while it is in a transaction, until one drop has hit a
        # batch already posted (the receiver then sees those keys again), at most 10 times.
        def reposted() -> bool:
            return len(receiver.receipts) > len(receiver.accepted())

        def settled() -> bool:
            return all(m.status == "delivered" for m in rows(engine))

        while len(dropped) < 10 and not (len(dropped) >= 4 and reposted()) and not settled():
            wait_until(lambda: _worker_in_transaction(pg_url) or settled(), 30, "the worker to deliver")
            dropped.append(_terminate_worker_connections(pg_url))
            time.sleep(0.2)
        wait_until(settled, 90, "delivery")
    finally:
        errors = stop_worker(worker)
    assert sum(dropped) >= 4, dropped
    assert "database error" in errors                # the drops hit the worker, which carried on
    assert worker.returncode == 0
    accepted = receiver.accepted()
    assert len(receiver.receipts) > len(accepted), "a batch was posted again after a drop"
    assert_exactly_once_in_order(receiver, {m.idempotency_key for m in rows(engine)})
    assert len(accepted) == 200


def test_the_worker_is_off_without_a_webhook_url(tmp_path):
    environment = dict(os.environ, PYTHONPATH=str(ROOT), CLINIC_WEBHOOK_URL="",
                       CLINIC_VAR_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "storage.outbox_worker"], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "webhook is off" in result.stdout


def test_concurrent_workers_still_deliver_each_conversation_in_order(engine, pg_url,
                                                                     outbox_repository, receiver):
    write_outcomes(outbox_repository, conversations=10, per_conversation=6)
    receiver.delay_seconds = 0.005
    workers = [Worker(engine, worker_settings(pg_url, receiver), batch_size=7) for _ in range(2)]
    threads = [threading.Thread(target=drain, args=(worker,),
                                kwargs={"until": lambda: all(m.status == "delivered" for m in rows(engine))})
               for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for worker in workers:
        worker.close()
    assert_exactly_once_in_order(receiver, {m.idempotency_key for m in rows(engine)})
    assert len(receiver.receipts) == 60          # no database trouble: not even a repeat
