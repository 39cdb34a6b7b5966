"""PostgreSQL restarted mid-conversation (a private instance): Rasa's tracker store and the staff
console reconnect, and no event of the conversation is lost.

Two faults: a clean restart between two turns (every pooled connection goes stale), and a crash
(immediate stop) with a turn arriving while the database is down: that turn waits (bot/stores.py
retries for up to CLINIC_DB_RETRY_SECONDS) and is answered and stored once the database is back.
Down for longer than that, the turn fails with the fallback (the advice for an emergency in the
message itself, the emergency line) instead of Rasa's in-memory store, and the conversation goes
on where it was once the database is back.
"""
from __future__ import annotations

import re
import threading
import time

import pytest

from bot.channels.rendering import FALLBACK_TEXT
from storage.migrate import upgrade
from testing.servers import projector_worker, wait_started
from tests.faults.helpers import (
    Stack,
    asks,
    assert_answered,
    assert_emergency_advice,
    bot_texts,
    console_session,
    create_staff,
    fault_env,
    stored_events,
    user_texts,
    web_app,
)
from tests.faults.services import PrivatePostgres
from webapp.console import sender_from_token

pytestmark = [pytest.mark.servers, pytest.mark.slow, pytest.mark.timeout(600)]

DOWN_SECONDS = 4
CONSOLE_SECRET_KEY = "faults-console-secret"
RETRY_SECONDS = 12


@pytest.fixture(scope="module")
def postgres():
    server = PrivatePostgres().start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def stack(model, postgres, tmp_path_factory):
    url = postgres.create_database("clinic_faults_pg")
    upgrade(url)
    env = fault_env(CLINIC_DATABASE_URL=url, CLINIC_SECRET_KEY=CONSOLE_SECRET_KEY,
                    CLINIC_DB_RETRY_SECONDS=str(RETRY_SECONDS))
    stack = Stack(env, tmp_path_factory.mktemp("faults-postgres"))
    create_staff(stack.env)
    web = web_app(stack.env, stack.log_dir)
    worker = projector_worker(stack.env, stack.log_dir)
    try:
        stack.start_actions()
        stack.start_rasa()
        web.start().wait_ready()
        stack.web, stack.projector = web, wait_started(worker.start())
        stack.database_url = url
        yield stack
    finally:
        worker.stop()
        web.stop()
        stack.stop()


def console_lists(session, base_url: str, sender: str, seconds: float = 30) -> bool:
    """Whether the list shows the conversation within `seconds` (the projector worker lists it)."""
    deadline = time.monotonic() + seconds
    while True:
        response = session.get(f"{base_url}/staff/", timeout=60)
        assert response.status_code == 200, response.status_code
        tokens = re.findall(r'href="/staff/conversations/([^"]+)"', response.text)
        if sender in [sender_from_token(token, CONSOLE_SECRET_KEY) for token in tokens]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def test_postgres_restarted_and_crashed_mid_conversation_nothing_is_lost(stack, postgres, new_sender):
    sender = new_sender("pg")
    web_url = stack.web.health_url.rsplit("/staff/", 1)[0]
    console = console_session(web_url)
    sent, replies = [], []

    def say(message: str) -> list[dict]:
        sent.append(message)
        answer = stack.say(sender, message)
        assert_answered(answer)
        replies.extend(answer)
        return answer

    say("my lower back hurts and my calves cramp at night")
    assert asks(say("/affirm"))
    say("no")
    assert console_lists(console, web_url, sender)

    postgres.restart("fast")  # between two turns: every pooled connection is now dead
    assert asks(say("no")), "the screen goes on"
    assert console_lists(console, web_url, sender), "the console reconnects"

    postgres.stop("immediate")  # a crash; the next turn arrives while it is down
    result: dict = {}

    def late_turn() -> None:
        started = time.monotonic()
        try:
            result["replies"] = stack.say(sender, "no", timeout=90)
        except BaseException as error:  # reported by the test thread
            result["error"] = error
        result["seconds"] = time.monotonic() - started

    sent.append("no")
    thread = threading.Thread(target=late_turn)
    thread.start()
    time.sleep(DOWN_SECONDS)
    postgres.start()
    thread.join(90)
    assert "error" not in result, result.get("error")
    assert result["seconds"] >= DOWN_SECONDS - 1, "the turn waited for the database"
    assert_answered(result["replies"])
    assert not any((r.get("custom") or {}).get("degraded") for r in result["replies"])
    replies.extend(result["replies"])

    say("what is the soleus?")
    say("no")
    assert stack.rasa.popen.poll() is None and stack.actions.popen.poll() is None
    assert stack.projector.popen.poll() is None, "the projector worker rode out both faults"
    assert "Database unavailable while trying to read a conversation" in stack.rasa.log_path.read_text(), \
        "the turn met the database down and retried"

    events = stored_events(stack.database_url, sender)
    assert user_texts(events) == sent, "every message is stored, once, in order"
    assert bot_texts(events) == [r.get("text") for r in replies], "every reply is stored, once, in order"
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    response = console.get(f"{web_url}/staff/conversations/{sender}", timeout=60)
    assert response.status_code == 200 and "soleus" in response.text


def test_postgres_down_longer_than_the_retries_fails_the_turn_not_the_conversation(stack, postgres, new_sender):
    sender = new_sender("pg-long")
    stack.say(sender, "my lower back hurts")
    assert asks(stack.say(sender, "/affirm")) == ["cauda_equina"]

    postgres.stop("immediate")
    try:
        replies, seconds = stack.timed_say(sender, "yes, I can't feel it when I wipe")
    finally:
        postgres.start()
    assert_emergency_advice(replies)  # read from the message alone
    assert replies[-1]["text"] == FALLBACK_TEXT
    assert RETRY_SECONDS - 1 <= seconds < RETRY_SECONDS + 15
    log = stack.rasa.log_path.read_text()
    assert "InMemoryTrackerStore" not in log, "nothing kept in one process's memory only"

    replies = stack.say(sender, "yes, I can't feel it when I wipe")  # sent again, the database back
    assert_emergency_advice(replies)
    events = stored_events(stack.database_url, sender)
    assert user_texts(events) == ["my lower back hurts", "/affirm", "yes, I can't feel it when I wipe"]
