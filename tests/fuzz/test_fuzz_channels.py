"""Hostile input against the real Rasa server (the short run; benchmarks/fuzz.py is the full one):
REST, socket.io and every messaging webhook get generated messages (huge, empty, control
characters, invalid UTF-8, deep nesting, wrong types, HTML/JS, SQL, prompt-like text, 1 MB
bodies, malformed but correctly signed payloads). No 5xx, no dropped connection, no apology
from a crashed dialogue, no silence; bodies over the limit get 413; the bot then still answers a
new patient normally. See testing/fuzz/ for what counts as a problem."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
import requests

from bot.channels.rendering import RATE_LIMITED_TEXT
from testing.fuzz.cases import Case, big_body, fresh_sender
from testing.fuzz.run import Tally, answers_normally, fuzz_channel
from testing.fuzz.send import send_rest, send_socketio, send_webhook
from testing.fuzz.stack import EMERGENCY_NUMBER, MAX_BODY_BYTES
from testing.servers import REST_HEADERS

pytestmark = [pytest.mark.servers, pytest.mark.slow, pytest.mark.timeout(900)]

EXAMPLES = {"rest": 300, "socketio": 120, "telegram": 80, "slack": 80, "facebook": 80, "twilio": 80}
WEBHOOKS = ("telegram", "slack", "facebook", "twilio")


def fallbacks(hostile) -> int:
    """Saves that failed, so that Rasa kept the conversation in memory only (lost)."""
    return hostile.rasa.log_path.read_text(errors="replace").count("Falling back to use the 'InMemoryTrackerStore'")


def fuzz(hostile, channel: str) -> Tally:
    tally = Tally()
    fuzz_channel(channel, hostile.url, EXAMPLES[channel], tally)
    print(f"\n{tally.report()}")
    assert tally.count(channel) >= EXAMPLES[channel] * 0.9
    assert tally.total_problems() == 0, tally.report()
    assert not any(code.startswith("5") for code in tally.status[channel]), tally.report()
    assert hostile.rasa.popen.poll() is None, "Rasa is still running"
    assert fallbacks(hostile) == 0, "a conversation could not be stored"
    ok, detail = answers_normally(hostile.url)
    assert ok, detail
    return tally


def test_fuzz_rest(hostile):
    tally = fuzz(hostile, "rest")
    assert tally.status["rest"]["200"] and tally.status["rest"]["400"] and tally.status["rest"]["413"]


def test_fuzz_socketio(hostile):
    tally = fuzz(hostile, "socketio")
    assert tally.status["socketio"]["bot_uttered"] and tally.status["socketio"]["input_error"]


@pytest.mark.parametrize("channel", WEBHOOKS)
def test_fuzz_messaging_webhook(hostile, channel):
    tally = fuzz(hostile, channel)
    statuses = tally.status[channel]
    assert statuses["401"] + statuses["403"] and statuses["400"], "unsigned or forged, and malformed, seen"


@pytest.mark.parametrize("channel", ("rest", *WEBHOOKS))
@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 1024 * 1024])
def test_bodies_over_the_limit_get_413_on_every_channel(hostile, channel, size):
    case = Case(big_body(size, "a"), kind="big")
    session = requests.Session()
    status, problems = send_rest(hostile.url, case, session) if channel == "rest" else \
        send_webhook(channel, hostile.url, case, session)
    assert status == "413" and problems == []


def test_one_sender_flooding_gets_429_while_another_is_answered(hostile):
    """CLINIC_RATE_LIMIT_PER_MINUTE=30, burst 10 (per sender), the production defaults."""
    flooder, patient = fresh_sender("flood"), fresh_sender("patient")
    session = requests.Session()
    url = f"{hostile.url}/webhooks/rest/webhook"
    statuses, limited = [], None
    for index in range(25):
        response = session.post(url, json={"sender": flooder, "message": f"spam {index}"}, headers=REST_HEADERS,
                                timeout=60)
        statuses.append(response.status_code)
        if response.status_code == 429:
            limited = response
    assert statuses[:10] == [200] * 10 and statuses.count(429) >= 10, statuses
    assert limited.headers["Retry-After"] == "60"
    body = limited.json()
    assert body[0]["text"] == f"If this is an emergency, call {EMERGENCY_NUMBER} now."
    assert body[1]["text"] == RATE_LIMITED_TEXT

    replies = session.post(url, json={"sender": patient, "message": "hello"}, headers=REST_HEADERS, timeout=60)
    assert replies.status_code == 200
    assert any((r.get("custom") or {}).get("ask") == "consent" for r in replies.json()), json.dumps(replies.json())
    emergency = session.post(url, json={"sender": patient, "message": "I can't feel it when I wipe"},
                             headers=REST_HEADERS, timeout=60)
    assert emergency.status_code == 200 and emergency.json()[0]["text"].startswith("This could be serious")


WORST_CASE_TEXTS = {  # each took from seconds to minutes of CPU before the fixes
    "brackets": ")" * 20000, "quotes": "'" * 20000, "emoji": "🦵" * 5000,
    "one-long-word": "%s%s%s%n" * 2500, "long-intent": "/nlu_fallback" * 1500,
}


def test_the_slowest_messages_do_not_hold_up_another_patients_emergency(hostile):
    """NLU runs on Rasa's event loop: a message that takes long to parse delays every patient."""
    url = f"{hostile.url}/webhooks/rest/webhook"

    def post(sender: str, text: str) -> tuple[int, float, list]:
        started = time.monotonic()
        response = requests.post(url, data=json.dumps({"sender": sender, "message": text}, ensure_ascii=False)
                                 .encode(), headers={"Content-Type": "application/json", **REST_HEADERS}, timeout=120)
        return response.status_code, time.monotonic() - started, response.json()

    with ThreadPoolExecutor(len(WORST_CASE_TEXTS) + 1) as pool:
        hostile_turns = {name: pool.submit(post, fresh_sender(name), text) for name, text in WORST_CASE_TEXTS.items()}
        time.sleep(0.2)
        status, seconds, replies = post(fresh_sender("meanwhile"), "I can't feel it when I wipe")
        assert status == 200 and replies[0]["text"].startswith("This could be serious")
        print(f"\nthe emergency was answered in {seconds:.1f} s")
        assert seconds < 10, f"the emergency waited {seconds:.1f} s behind the hostile messages"
        for name, turn in hostile_turns.items():
            status, seconds, replies = turn.result()
            assert status == 200 and replies and seconds < 20, (name, status, seconds)


@pytest.mark.parametrize("channel", WEBHOOKS)
def test_an_over_long_sender_id_is_refused_not_lost(hostile, channel):
    """A signed payload whose sender id is longer than the tracker store's column (255) was
    accepted; every save of that conversation then failed and Rasa kept it in memory only."""
    long_id = "4477" + "1" * 300
    bodies = {
        "telegram": json.dumps({"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "hello",
                                                            "chat": {"id": int(long_id), "type": "private"}}}),
        "slack": json.dumps({"type": "event_callback", "authed_users": ["UBOT"], "event": {
            "type": "message", "channel_type": "im", "channel": "D0DIRECT", "user": "U" + long_id,
            "text": "hello", "ts": "1700000000.000100"}}),
        "facebook": json.dumps({"object": "page", "entry": [{"id": "PAGE", "time": 0, "messaging": [
            {"sender": {"id": long_id}, "recipient": {"id": "PAGE"}, "message": {"mid": "m", "text": "hello"}}]}]}),
        "twilio": urlencode({"From": "+" + long_id, "To": "+15005550006", "Body": "hello"}),
    }
    case = Case(bodies[channel].encode(), content_type="application/x-www-form-urlencoded"
                if channel == "twilio" else "application/json", kind="long-sender")
    status, problems = send_webhook(channel, hostile.url, case, requests.Session())
    assert status == "400" and problems == []
    time.sleep(0.5)  # Slack's turns run in the background
    assert fallbacks(hostile) == 0


@pytest.mark.parametrize("data, answer", [
    (None, "input_error"), (("hello", "extra"), "input_error"),
    (({"message": "hi", "session_id": "s-extra-1"}, 2), "bot_uttered"),
], ids=["no-argument", "two-arguments", "message-and-more"])
def test_a_socketio_event_with_no_or_several_arguments_is_answered(hostile, data, answer):
    """Such an event raised TypeError in the handler: no answer at all, an unhandled task error."""
    status, problems = send_socketio(hostile.url, data, Case(b"", kind="arguments"), wait=10)
    assert status == answer and problems == []


def _slack_form(payload) -> Case:
    return Case(urlencode({"payload": json.dumps(payload)}).encode(),
                content_type="application/x-www-form-urlencoded", kind="interaction")


FORESEEN = {  # signed payloads the fuzz found raising inside the channel (answered 400 by the guard)
    "slack-actions-of-lists": ("slack", _slack_form({"type": "block_actions", "actions": [[1]], "user": {"id": "U1"}})),
    "slack-actions-of-nulls": ("slack", _slack_form({"type": "block_actions", "actions": [None], "user": {"id": "U1"}})),
    "slack-user-not-object": ("slack", _slack_form({"type": "block_actions", "user": ["U1"],
                                                    "actions": [{"type": "button", "value": "/affirm"}]})),
    "messenger-sender-list": ("facebook", Case(json.dumps({"object": "page", "entry": [{"messaging": [
        {"sender": ["PSID"], "message": {"text": "hi"}}]}]}).encode(), kind="delivery")),
}


@pytest.mark.parametrize("name", sorted(FORESEEN))
def test_malformed_signed_payloads_get_a_plain_400(hostile, name):
    channel, case = FORESEEN[name]
    before = hostile.rasa.log_path.read_text().count("answered 400")
    status, problems = send_webhook(channel, hostile.url, case, requests.Session())
    assert status == "400" and problems == []
    assert hostile.rasa.log_path.read_text().count("answered 400") == before, "no unforeseen exception"
