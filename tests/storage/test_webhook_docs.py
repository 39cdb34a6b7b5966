"""The signature check docs/webhook.md gives clinics, run as written against messages the worker
really posted, and against forgeries."""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from clinic.settings import get_settings
from storage.outbox import OutboxPolicy, signature
from storage.outbox_worker import Worker
from storage.repository import Repository
from testing.webhook_receiver import Receiver

pytestmark = pytest.mark.postgres

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhook.md"
SECRET = "the-clinics-shared-secret"


def documented_verify():
    section = DOC.read_text().split("## Verifying the signature", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10, "the example is meant to be ten lines"
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - the project's own documentation
    return namespace["verify"]


@pytest.fixture
def delivered(engine, pg_url):
    """(body, signature header) of a message the worker posted to a receiver."""
    repository = Repository(engine, outbox=OutboxPolicy(("emergency",)))
    repository.record_outcome(
        conversation_id="sig-1", level="emergency", red_flags=["cauda_equina"],
        rules=["cauda_equina.saddle_or_sphincter"], protocol_version="2026.11.0", plan=[],
        reason="Saddle numbness.", findings={"saddle_numbness": "present"}, channel="rest",
        created_at=datetime.now(timezone.utc), event_key="user@1", sources=[])
    receiver = Receiver(SECRET).start()
    settings = get_settings().copy(update={"database_url": pg_url, "webhook_url": receiver.url,
                                           "webhook_secret": SECRET, "secret_key": "k"})
    worker = Worker(engine, settings)
    worker.run_once()
    worker.close()
    receiver.stop()
    [key] = receiver.bodies
    return receiver.bodies[key], receiver.signatures[key]


def test_the_documented_check_accepts_a_real_message(delivered):
    body, header = delivered
    assert documented_verify()(SECRET, body, header)


def test_the_documented_check_detects_forgeries(delivered):
    verify = documented_verify()
    body, header = delivered
    now = int(time.time())
    tampered = body.replace(b'"emergency"', b'"self_care"', 1)
    assert tampered != body
    assert not verify(SECRET, tampered, header)                         # body changed
    assert not verify("another-secret", body, header)                   # signed with another key
    assert not verify(SECRET, tampered, signature("guessed-secret", tampered, now))
    assert not verify(SECRET, body, signature(SECRET, body, now - 3600))  # an old message replayed
    assert not verify(SECRET, body, header.replace("t=", "t=1", 1))     # time changed
    assert not verify(SECRET, body, "")                                  # unsigned
    assert verify(SECRET, body, signature(SECRET, body, now))           # the real secret signs
