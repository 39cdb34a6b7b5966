"""actions/server.py: the action server with the shared token (CLINIC_ACTION_SERVER_TOKEN)."""
from __future__ import annotations

import json
import sys
import uuid

import psutil
import pytest
import requests

from testing.servers import Process, base_env, free_port

pytestmark = [pytest.mark.slow]

TOKEN = "action-token-" + uuid.uuid4().hex


def start(tmp_path, **env) -> Process:
    port = free_port()
    process = Process("action server", [sys.executable, "-m", "actions.server", "--actions", "actions",
                                        "--port", str(port)],
                      base_env(**env), f"http://127.0.0.1:{port}/health", tmp_path / f"actions-{port}.log")
    return process.start().wait_ready(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = start(tmp_path_factory.mktemp("action-server"), CLINIC_ACTION_SERVER_TOKEN=TOKEN)
    yield process
    process.stop()


def url(server: Process, path: str) -> str:
    return server.health_url.replace("/health", path)


def call(server, token_header=None, query=None, body=None) -> requests.Response:
    headers = {"Authorization": token_header} if token_header else {}
    return requests.post(url(server, "/webhook"), params=query, headers=headers, timeout=30,
                         json=body if body is not None else {"next_action": "action_answer_question"})


def test_calls_without_the_token_are_refused_and_health_stays_open(server):
    assert requests.get(server.health_url, timeout=10).status_code == 200
    assert call(server).status_code == 401
    assert call(server, "Bearer wrong").status_code == 403
    assert call(server, query={"token": "wrong"}).status_code == 403
    assert call(server, "Basic " + TOKEN).status_code == 401
    assert requests.get(url(server, "/actions"), timeout=10).status_code == 401
    listed = requests.get(url(server, "/actions"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert listed.status_code == 200 and {"name": "action_triage_outcome"} in listed.json()


def test_the_token_is_accepted_as_rasas_header_or_query_parameter(server):
    # An incomplete call: past the token check it reaches rasa_sdk, which needs a tracker.
    for response in (call(server, f"Bearer {TOKEN}"), call(server, query={"token": TOKEN})):
        assert response.status_code == 500, response.text


def test_a_failing_action_answers_without_echoing_the_request_or_logging_it(server):
    marker = "patient-words-" + uuid.uuid4().hex
    body = {"next_action": "action_answer_question", "tracker": {"latest_message": {"text": marker}}}
    response = call(server, f"Bearer {TOKEN}", body=body)
    assert response.status_code == 500
    assert marker not in response.text and json.loads(response.text) == {"error": "the action failed (KeyError)"}
    log = server.log_path.read_text()
    assert "KeyError while handling POST /webhook" in log
    assert marker not in log and TOKEN not in log


def test_it_listens_on_localhost_only_unless_told(server):
    addresses = {c.laddr.ip for c in psutil.Process(server.popen.pid).net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN}
    assert addresses == {"127.0.0.1"}


def test_without_a_token_it_serves_anyone_and_warns(tmp_path):
    process = start(tmp_path, CLINIC_ACTION_SERVER_TOKEN="")
    try:
        assert requests.get(url(process, "/actions"), timeout=10).status_code == 200
        assert "CLINIC_ACTION_SERVER_TOKEN is not set" in process.log_path.read_text()
    finally:
        process.stop()


@pytest.mark.servers
@pytest.mark.timeout(300)
def test_rasa_with_the_proposed_endpoint_config_works_without_a_token_and_degrades_on_a_wrong_one(tmp_path):
    """bot/endpoints.yml with `headers: Authorization: Bearer ${CLINIC_ACTION_SERVER_TOKEN}`:
    with the variable empty (development) Rasa starts and the action server needs no token; an
    action server wanting a token Rasa does not have refuses every call, and the patient gets
    the degraded reply (the emergency advice still comes from Rasa itself)."""
    from testing.fuzz.stack import ENDPOINTS_WITH_TOKEN
    from testing.servers import rasa_server, rest_say
    from testing.synthetic import temporary_database
    from tests.faults.helpers import asks, assert_emergency_advice, degraded

    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(ENDPOINTS_WITH_TOKEN)
    port = free_port()
    with temporary_database("clinic_security_token") as database:
        env = base_env(CLINIC_DATABASE_URL=database, CLINIC_EMERGENCY_NUMBER="999", CLINIC_ACTION_SERVER_TOKEN="",
                       CLINIC_ACTION_SERVER_URL=f"http://127.0.0.1:{port}/webhook",
                       CLINIC_RATE_LIMIT_PER_MINUTE="0", CLINIC_RATE_LIMIT_IP_PER_MINUTE="0")

        def actions(token: str) -> Process:
            return Process("action server", [sys.executable, "-m", "actions.server", "--actions", "actions",
                                             "--port", str(port)], dict(env, CLINIC_ACTION_SERVER_TOKEN=token),
                           f"http://127.0.0.1:{port}/health", tmp_path / "actions.log").start().wait_ready(120)

        server = actions("")
        rasa = rasa_server(env, tmp_path, extra_args=("--endpoints", str(endpoints))).start()
        try:
            rasa.wait_ready()
            url = rasa.health_url.rstrip("/")
            rest_say(url, "token-ok", "my back hurts")
            assert asks(rest_say(url, "token-ok", "/affirm")) == ["cauda_equina"]

            server.stop()
            server = actions(TOKEN)  # Rasa's (empty) token is now wrong
            rest_say(url, "token-wrong", "my back hurts")
            assert degraded(rest_say(url, "token-wrong", "/affirm"))
            assert_emergency_advice(rest_say(url, "token-wrong", "I can't feel it when I wipe"))
        finally:
            rasa.stop()
            server.stop()
