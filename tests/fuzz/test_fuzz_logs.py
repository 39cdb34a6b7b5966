"""Logs at INFO (Rasa, action server, web app, projector worker) carry no secret and no message text.

Runs on the hostile bot of tests/fuzz (after the fuzzing when the whole folder runs, so its logs
hold thousands of hostile requests): every secret the services get from the environment is
searched for in every log, and a message with a unique marker is sent on every channel, its
conversation opened in the staff console, and the marker searched for."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from testing.fuzz.cases import Case, fresh_sender
from testing.fuzz.send import send_socketio, send_webhook
from testing.fuzz.stack import API_TOKEN, SECRETS
from testing.servers import REST_HEADERS, projector_worker, wait_started
from tests.faults.helpers import STAFF_PASSWORD, console_session, create_staff, web_app

pytestmark = [pytest.mark.servers, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def web(hostile):
    """The staff console, and the projector worker that keeps it current (its log is checked too)."""
    create_staff(hostile.env)
    process = web_app(hostile.env, hostile.log_dir).start().wait_ready()
    worker = wait_started(projector_worker(hostile.env, hostile.log_dir).start())
    yield process
    worker.stop()
    process.stop()


def opened(console, web_url: str, sender: str, seconds: float = 30):
    """The conversation's page, once the projector worker has listed it."""
    deadline = time.monotonic() + seconds
    while (page := console.get(f"{web_url}/staff/conversations/{sender}", timeout=60)).status_code == 404 \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    return page


def all_logs(hostile) -> dict[str, str]:
    return {name: text for name, text in hostile.logs().items() if name.endswith(".log")}


def marked_requests(marker: str) -> dict[str, Case]:
    text = f"my back hurts {marker}"
    unique = uuid.uuid4().int % 10**9  # each platform message has its own id (a repeat is a replay)
    return {
        "telegram": Case(json.dumps({"update_id": unique, "message": {"message_id": 1, "date": 0, "text": text,
                                                                 "chat": {"id": 4242, "type": "private"}}}).encode()),
        "slack": Case(json.dumps({"type": "event_callback", "event_id": f"Ev{unique}", "authed_users": ["UBOT"], "event": {
            "type": "message", "channel_type": "im", "channel": "D0LOGS", "user": "U0LOGS", "text": text,
            "ts": "1700000000.000100"}}).encode()),
        "facebook": Case(json.dumps({"object": "page", "entry": [{"id": "PAGE", "time": 0, "messaging": [
            {"sender": {"id": "PSID-LOGS"}, "recipient": {"id": "PAGE"},
             "message": {"mid": f"m{unique}", "text": text}}]}]}).encode()),
        "twilio": Case(urlencode({"From": "+447700900999", "To": "+15005550006", "Body": text,
                                  "MessageSid": f"SM{unique}"}).encode(),
                       content_type="application/x-www-form-urlencoded"),
    }


def test_no_message_text_in_the_logs_at_info(hostile, web):
    marker = "zqxmarker" + uuid.uuid4().hex[:12]
    sender = fresh_sender("logs")
    url = f"{hostile.url}/webhooks/rest/webhook"
    for text in ("hello", "/affirm", f"my lower back hurts {marker}", f"what is the soleus {marker}?", "no"):
        assert requests.post(url, json={"sender": sender, "message": text}, headers=REST_HEADERS,
                             timeout=60).status_code == 200
    status, problems = send_socketio(hostile.url, {"message": f"my calf hurts {marker}",
                                                   "session_id": fresh_sender("logs")}, Case(b"", expect_valid=True))
    assert status == "bot_uttered" and not problems
    for channel, case in marked_requests(marker).items():
        status, problems = send_webhook(channel, hostile.url, case, requests.Session())
        assert status in ("200", "204") and not problems, (channel, status, problems)
    time.sleep(1)  # Slack's turn runs in the background

    web_url = web.health_url.rsplit("/staff/", 1)[0]
    console = console_session(web_url)
    assert console.get(f"{web_url}/staff/", timeout=60).status_code == 200
    page = opened(console, web_url, sender)
    assert page.status_code == 200 and marker in page.text, "the console shows the message (consented)"

    logs = all_logs(hostile)
    assert {name.split("-")[0] for name in logs} >= {"rasa", "actions", "web", "projector"}
    leaks = [name for name, text in logs.items() if marker in text]
    assert leaks == [], f"message text logged in {leaks}"
    senders = ["+447700900999", "PSID-LOGS", "U0LOGS", sender]  # nor who wrote it
    assert [(name, s) for name, text in logs.items() for s in senders if s in text] == []


def test_no_secret_from_the_environment_in_any_log(hostile, web):
    console_session(web.health_url.rsplit("/staff/", 1)[0])  # the console has logged in at least once
    secrets = {**SECRETS, "RASA_API_TOKEN": API_TOKEN, "staff password": STAFF_PASSWORD}
    logs = all_logs(hostile)
    leaks = {(name, secret) for name, text in logs.items() for secret, value in secrets.items() if value in text}
    assert leaks == set()


def test_no_secret_on_any_command_line(hostile):
    """`ps` shows every process's arguments to every user of the machine."""
    secrets = {**SECRETS, "RASA_API_TOKEN": API_TOKEN}
    for process in (hostile.rasa, hostile.actions):
        command_line = Path(f"/proc/{process.popen.pid}/cmdline").read_bytes().decode(errors="replace")
        assert [name for name, value in secrets.items() if value in command_line] == [], process.name


def test_rasa_http_api_needs_the_token(hostile):
    sender = fresh_sender("api")
    requests.post(f"{hostile.url}/webhooks/rest/webhook", json={"sender": sender, "message": "hello"},
                  headers=REST_HEADERS, timeout=60)
    tracker = f"{hostile.url}/conversations/{sender}/tracker"
    assert requests.get(f"{hostile.url}/", timeout=10).status_code == 200  # "Hello from Rasa" only
    for path in ("/status", f"/conversations/{sender}/tracker", "/domain"):
        assert requests.get(f"{hostile.url}{path}", timeout=10).status_code == 401, path
        assert requests.get(f"{hostile.url}{path}", params={"token": "guess"}, timeout=10).status_code == 401
    answer = requests.get(tracker, params={"token": API_TOKEN}, timeout=10)
    assert answer.status_code == 200 and answer.json()["sender_id"] == sender
    assert requests.post(f"{hostile.url}/conversations/{sender}/messages", json={"text": "x", "sender": "user"},
                         timeout=10).status_code == 401


def test_the_action_server_refuses_calls_without_the_token(hostile):
    webhook = hostile.actions.health_url.replace("/health", "/webhook")
    assert requests.post(webhook, json={"next_action": "action_triage_outcome"}, timeout=10).status_code == 401
    # and Rasa, configured with the token (headers: in its endpoints file), is served: no degraded reply
    sender = fresh_sender("token")
    replies = [requests.post(f"{hostile.url}/webhooks/rest/webhook", json={"sender": sender, "message": m},
                             headers=REST_HEADERS, timeout=60).json() for m in ("my back hurts", "/affirm")]
    assert any((r.get("custom") or {}).get("ask") == "cauda_equina" for r in replies[-1]), replies[-1]
    assert not any((r.get("custom") or {}).get("degraded") for reply in replies for r in reply)


