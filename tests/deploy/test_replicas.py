"""Two real Rasa replicas share conversations through PostgreSQL and Redis (issue 6, item 2).

Both replicas and the action server run with docker-compose.yml's environment for their services
(testing/deployment.py: local_environment), its hosts swapped for this machine's PostgreSQL
(a fresh database), Redis and action server. One conversation's turns go alternately to each
replica over REST; its stored events must be complete and in order, and its triage the same as
when one process takes every turn.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import sqlalchemy as sa

from testing.deployment import local_environment
from testing.servers import MODEL, action_server, base_env, free_port, rasa_server, rest_say
from testing.synthetic import temporary_database

pytestmark = [pytest.mark.servers, pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(300)]

# A database index of the machine's Redis; keys are this test's own (prefix, sender ids) and removed.
REDIS_URL = os.environ.get("CLINIC_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
LOCK_KEY = "clinic:lock:{}"  # bot/stores.py: RedisLockStore(key_prefix="clinic")
OPENING = "my calves feel tight and cramp at night"
QUESTION = "what is the soleus?"


@pytest.fixture(scope="module")
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {error}")
    yield client
    client.close()


@pytest.fixture(scope="module")
def cluster(redis_client, tmp_path_factory):
    """An action server and two Rasa replicas on one fresh database and the machine's Redis."""
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train`")
    run = uuid.uuid4().hex[:10]
    prefix = f"test-replicas-{run}:"
    log_dir = tmp_path_factory.mktemp("replica-logs")
    processes = []
    with temporary_database("clinic_replicas") as database_url:
        port = free_port()
        hosts = dict(database_url=database_url, redis_url=REDIS_URL, action_url=f"http://127.0.0.1:{port}/webhook")
        rasa_env = base_env(**{**local_environment("rasa", **hosts), "CLINIC_RATE_LIMIT_PREFIX": prefix,
                               # Shared Redis buckets stay on; a test's quick turns stay under them.
                               "CLINIC_RATE_LIMIT_PER_MINUTE": "600", "CLINIC_RATE_LIMIT_BURST": "100"})
        assert rasa_env["CLINIC_DATABASE_URL"] == database_url and rasa_env["CLINIC_REDIS_URL"] == REDIS_URL
        try:
            processes.append(action_server(base_env(**local_environment("actions", **hosts)), log_dir, port).start())
            processes += [rasa_server(rasa_env, log_dir).start() for _ in range(2)]
            for process in processes:
                process.wait_ready()
            yield {"rasas": processes[1:], "database_url": database_url, "run": run}
        finally:
            for process in reversed(processes):
                process.stop()
            for key in [*redis_client.scan_iter(f"{prefix}*"), *redis_client.scan_iter(LOCK_KEY.format(f"*{run}*"))]:
                redis_client.delete(key)


def _url(process) -> str:
    return process.health_url.rstrip("/")


def _asks(replies: list[dict]) -> list[str]:
    return [(r.get("custom") or {}).get("ask") for r in replies if (r.get("custom") or {}).get("ask")]


def _triage(replies: list[dict]) -> dict | None:
    return next(((r.get("custom") or {}).get("triage") for r in replies if (r.get("custom") or {}).get("triage")), None)


def converse(say) -> list[tuple[str, list[dict]]]:
    """Consent, a knowledge question mid-screen, "no" to every screening question, the outcome,
    then a question after it. `say(turn_index, message)` sends one turn."""
    turns = []

    def send(message: str) -> list[dict]:
        replies = say(len(turns), message)
        turns.append((message, replies))
        return replies

    assert _asks(send(OPENING))[-1] == "consent"
    screening = _asks(send("/affirm"))
    assert screening, "the screen starts after consent"
    assert _asks(send(QUESTION)) == screening[-1:], "the question is answered and the screen goes on"
    for _ in range(25):
        if _triage(send("no")):
            break
    else:
        raise AssertionError("no outcome after 25 answers")
    send("does crossing my legs matter?")
    return turns


def summary(turns: list[tuple[str, list[dict]]]) -> dict:
    triage = next(_triage(replies) for _, replies in turns if _triage(replies))
    return {"messages": [message for message, _ in turns], "asks": [_asks(replies) for _, replies in turns],
            "triage": {key: triage[key] for key in ("level", "red_flags", "rules", "plan")}}


def stored_events(database_url: str, sender: str) -> list[dict]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT id, type_name, timestamp, action_name, data FROM events WHERE sender_id = :sender ORDER BY id"),
                {"sender": sender}).mappings().all()
    finally:
        engine.dispose()
    return [dict(row, data=json.loads(row["data"])) for row in rows]


def assert_turns_stored_in_order(events: list[dict], turns: list[tuple[str, list[dict]]]) -> None:
    """Every message and every reply stored once, turn by turn, in time order, turns never interleaved."""
    assert [e["data"]["text"] for e in events if e["type_name"] == "user"] == [message for message, _ in turns]
    timestamps = [e["timestamp"] for e in events]
    assert timestamps == sorted(timestamps), "events stored out of time order"
    assert len({(e["type_name"], e["timestamp"], str(e["data"])) for e in events}) == len(events), "duplicated events"
    # Split at each user event: the bot's messages of a turn are what REST answered for it
    # (REST puts escalations first, so compare as multisets), and each turn ends listening.
    starts = [i for i, e in enumerate(events) if e["type_name"] == "user"]
    for index, (start, (message, replies)) in enumerate(zip(starts, turns, strict=True)):
        end = starts[index + 1] if index + 1 < len(starts) else len(events)
        turn = events[start:end]
        stored = Counter(e["data"].get("text") for e in turn if e["type_name"] == "bot")
        assert stored == Counter(r.get("text") for r in replies), f"turn {index} ({message!r})"
        assert turn[-1]["type_name"] == "action" and turn[-1]["action_name"] == "action_listen", \
            f"turn {index} ({message!r}) did not end before the next began"


def test_turns_alternating_between_replicas_are_stored_completely_and_triage_as_on_one_process(cluster):
    first, second = cluster["rasas"]
    run = cluster["run"]
    alternating, single = f"alternating-{run}", f"single-{run}"

    turns = converse(lambda i, message: rest_say(_url((first, second)[i % 2]), alternating, message))
    reference = converse(lambda i, message: rest_say(_url(first), single, message))

    assert len(turns) >= 6
    assert summary(turns) == summary(reference)
    assert_turns_stored_in_order(stored_events(cluster["database_url"], alternating), turns)
    assert_turns_stored_in_order(stored_events(cluster["database_url"], single), reference)


def test_simultaneous_messages_on_two_replicas_wait_for_the_conversations_redis_lock(cluster, redis_client):
    first, second = cluster["rasas"]
    sender = f"simultaneous-{cluster['run']}"
    opening = rest_say(_url(first), sender, OPENING)
    assert _asks(opening)[-1] == "consent"

    seen_lock = threading.Event()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if redis_client.exists(LOCK_KEY.format(sender)):
                seen_lock.set()
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with ThreadPoolExecutor(2) as pool:
        consent = pool.submit(rest_say, _url(first), sender, "/affirm")
        time.sleep(0.05)  # the consent first, the question while it is being processed
        question = pool.submit(rest_say, _url(second), sender, QUESTION)
        replies = [consent.result(), question.result()]
    done.set()
    watcher.join()

    assert seen_lock.is_set(), "the replicas did not lock the conversation in Redis"
    events = stored_events(cluster["database_url"], sender)
    # Whatever order the lock gave them, both turns are stored whole and one after the other.
    order = [e["data"]["text"] for e in events if e["type_name"] == "user"][1:]
    assert sorted(order) == sorted(["/affirm", QUESTION])
    turns = [(OPENING, opening)] + sorted(zip(["/affirm", QUESTION], replies, strict=True), key=lambda t: order.index(t[0]))
    assert_turns_stored_in_order(events, turns)
