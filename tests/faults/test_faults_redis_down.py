"""Redis down with two Rasa replicas (a private Redis, CLINIC_REDIS_URL).

Degraded mode (bot/stores.py, bot/channels/ratelimit.py): each replica logs one warning and
falls back to its own in-memory conversation locks and rate limits, and goes back to Redis
(logging it) once Redis answers again, after at most bot.redis_fallback.RETRY_SECONDS (30 s). A conversation
stays consistent while its turns reach one replica (the proxy's sticky sessions). Checked here:
with Redis up, turns of one conversation alternate between the replicas; with Redis down, each
conversation's turns go to one replica, two of them at the same moment; after Redis is back,
they alternate again. Every conversation's stored events are complete, in order, and each
triage decision is the one a conversation held on a single healthy server gets.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from testing.synthetic import temporary_database
from tests.faults.helpers import (
    Stack,
    assert_answered,
    assert_emergency_advice,
    bot_texts,
    fault_env,
    stored_events,
    triage_of,
    user_texts,
)
from tests.faults.services import PrivateRedis

pytestmark = [pytest.mark.servers, pytest.mark.slow, pytest.mark.timeout(900)]

DEGRADED_LOG = "Lock store: Redis unreachable"
BACK_LOG = "Lock store: Redis is back; leaving degraded mode"
RATE_DEGRADED_LOG = "Rate limits: Redis unreachable"
SCREEN = ["my lower back hurts", "/affirm", "no", "no", "no", "no", "no", "no", "no", "no", "no"]


@pytest.fixture(scope="module")
def redis_server():
    server = PrivateRedis().start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def stack(model, redis_server, tmp_path_factory):
    with temporary_database("clinic_faults_redis") as url:
        env = fault_env(CLINIC_DATABASE_URL=url, CLINIC_REDIS_URL=redis_server.url(3),
                        # limits on (so the limiter uses Redis too) but far above this test's pace
                        CLINIC_RATE_LIMIT_PER_MINUTE="6000", CLINIC_RATE_LIMIT_BURST="1000",
                        CLINIC_RATE_LIMIT_IP_PER_MINUTE="6000", CLINIC_RATE_LIMIT_IP_BURST="1000",
                        CLINIC_RATE_LIMIT_PREFIX="clinic-faults:ratelimit:")
        stack = Stack(env, tmp_path_factory.mktemp("faults-redis"))
        try:
            stack.start_actions()
            stack.start_rasa()
            stack.start_rasa()
            stack.database_url = url
            yield stack
        finally:
            stack.stop()


class Conversation:
    """Sends the turns of one conversation and remembers them, to compare with what is stored."""

    def __init__(self, stack: Stack, sender: str) -> None:
        self.stack, self.sender = stack, sender
        self.sent: list[str] = []
        self.replies: list[dict] = []

    def say(self, message: str, rasa) -> list[dict]:
        self.sent.append(message)
        replies = self.stack.say(self.sender, message, rasa)
        assert_answered(replies)
        self.replies.extend(replies)
        return replies

    def check_stored(self) -> list[dict]:
        events = stored_events(self.stack.database_url, self.sender)
        assert user_texts(events) == self.sent, self.sender
        assert bot_texts(events) == [r.get("text") for r in self.replies], self.sender
        assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
        return events


def turns_not_interleaved(events: list[dict]) -> bool:
    """Each user message's turn ends (action_listen) before the next user message."""
    kinds = [e["event"] if e["event"] != "action" else e.get("name") for e in events]
    users = [i for i, kind in enumerate(kinds) if kind == "user"]
    return len(users) == 3 and all("action_listen" in kinds[start:end]
                                   for start, end in zip(users, users[1:] + [len(kinds)], strict=False))


def outcome_of(conversation: Conversation) -> dict | None:
    found = triage_of(conversation.replies)
    return {k: v for k, v in found.items() if k != "event_key"} if found else None


def test_redis_down_two_replicas_conversations_stay_whole(stack, redis_server, new_sender):
    a, b = stack.rasas
    control = Conversation(stack, new_sender("control"))
    for message in SCREEN:
        control.say(message, a)
    assert outcome_of(control)["level"] == "self_care"

    # Redis up: one conversation's turns alternate between the replicas (shared locks).
    one, two = Conversation(stack, new_sender("one")), Conversation(stack, new_sender("two"))
    for index, message in enumerate(SCREEN[:4]):
        one.say(message, (a, b)[index % 2])
        two.say(message, (b, a)[index % 2])

    redis_server.stop()
    # Redis down: each conversation on its own replica (sticky), turns sent at the same moment.
    with ThreadPoolExecutor(4) as pool:
        for message in SCREEN[4:8]:
            list(pool.map(lambda job, text=message: job[0].say(text, job[1]), [(one, a), (two, b)]))
    # Two messages of one conversation at the same moment, on one replica: its in-memory lock
    # runs one turn after the other, never interleaved.
    burst = Conversation(stack, new_sender("burst"))
    burst.say("my lower back hurts", a)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda text: stack.say(burst.sender, text, a),
                      ["what is the soleus?", "does crossing my legs matter?"]))
    assert turns_not_interleaved(stored_events(stack.database_url, burst.sender))
    emergency = Conversation(stack, new_sender("emergency"))
    emergency.say("my lower back hurts", b)
    assert_emergency_advice(emergency.say("I can't feel it when I wipe", b))
    for rasa in (a, b):
        log = rasa.log_path.read_text()
        assert DEGRADED_LOG in log and "degraded mode" in log, rasa.log_path
        assert RATE_DEGRADED_LOG in log, rasa.log_path
        assert rasa.popen.poll() is None

    redis_server.start()
    # Each replica goes back to Redis on its first lock after bot.redis_fallback.RETRY_SECONDS.
    deadline = time.monotonic() + 75
    index = 8
    while not all(BACK_LOG in rasa.log_path.read_text() for rasa in (a, b)):
        assert time.monotonic() < deadline, "a replica did not go back to Redis"
        time.sleep(5)
        probe = Conversation(stack, new_sender("probe"))
        probe.say("hello", a)
        probe.say("hello", b)
    for message in SCREEN[index:]:  # alternating again
        one.say(message, (a, b)[index % 2])
        two.say(message, (b, a)[index % 2])
        index += 1

    for conversation in (one, two, emergency):
        conversation.check_stored()
    assert outcome_of(one) == outcome_of(two) == outcome_of(control)
    assert outcome_of(emergency)["level"] == "emergency"
