"""REST channel: validation, merged answers, escalation order, limits, rate limiting."""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable, List, Optional

import pytest
import redis
import requests
from channel_harness import (
    CRASH,
    EMERGENCY,
    EMERGENCY_NUMBER,
    FOLLOW_UP,
    QUESTION,
    REDIS_URL,
    SECRET_KEY,
    LiveServer,
    dumps,
    emergency_line,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from bot.channels.rendering import FALLBACK_TEXT
from bot.channels.rest import ID_HEADER, TOKEN_HEADER, ClinicRestInput
from bot.channels.web_conversations import TOKEN_SALT
from clinic.settings import get_settings

WEBHOOK = "/webhooks/rest/webhook"


def texts(messages: List[dict]) -> List[str]:
    return [message.get("text", "") for message in messages]


@pytest.fixture
def rest(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve(ClinicRestInput())


def post(server: LiveServer, payload: Any = None, data: bytes = None, **kwargs: Any
         ) -> requests.Response:
    body = data if data is not None else dumps(payload)
    return requests.post(server.url(WEBHOOK), data=body, timeout=10, **kwargs)


class Patient:
    """A REST client as it should be: starts a conversation, then sends each message with the
    latest token the server gave it."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.id: Optional[str] = None
        self.token: Optional[str] = None

    def say(self, message: str, server: Optional[LiveServer] = None) -> requests.Response:
        payload = {"message": message}
        if self.token:
            payload.update(sender=self.id, token=self.token)
        reply = post(server or self.server, payload)
        if reply.status_code in (200, 429):
            self.id, self.token = reply.headers[ID_HEADER], reply.headers[TOKEN_HEADER]
        return reply


def test_health(rest: LiveServer) -> None:
    assert requests.get(rest.url("/webhooks/rest/"), timeout=10).json() == {"status": "ok"}


def test_each_response_is_one_message_with_text_buttons_and_custom(rest: LiveServer) -> None:
    reply = post(rest, {"message": "question"})
    assert reply.status_code == 200
    assert reply.json() == [{"recipient_id": reply.headers[ID_HEADER], **QUESTION}]


def test_escalation_comes_first_even_when_uttered_later(rest: LiveServer) -> None:
    reply = post(rest, {"message": "late emergency"})
    assert texts(reply.json()) == [EMERGENCY["text"], FOLLOW_UP["text"]]


def test_a_failing_dialogue_still_answers_with_the_emergency_line(rest: LiveServer) -> None:
    reply = post(rest, {"message": CRASH})
    assert reply.status_code == 200
    assert texts(reply.json()) == [emergency_line(), FALLBACK_TEXT]


@pytest.mark.parametrize("message", ["", "   ", "\n"])
def test_empty_messages_reach_the_bot(rest: LiveServer, message: str) -> None:
    reply = post(rest, {"message": message})
    assert reply.status_code == 200 and reply.json()
    assert rest.dialogue.texts == [""]


def test_control_characters_are_stripped_and_input_channel_is_not_spoofable(
        rest: LiveServer) -> None:
    post(rest, {"message": "pa\x00in\x07 in\r\nmy\tback\x1b\x9b",
                "input_channel": "telegram", "metadata": {"page": "home\x00"}})
    [received] = rest.dialogue.received
    assert received.text == "pain in\nmy\tback"
    assert received.input_channel == "rest"
    assert received.metadata == {"page": "home"}



@pytest.mark.parametrize("sent, received", [
    (")" * 20000, "))))))))"), ("🦵" * 5000, "🦵" * 8), (") " * 10000, ") ) ) ) ) ) ) )"),
    ("it hurts!!!!!!!!!!!!!! so bad", "it hurts!!!!!!!! so bad"),
    ("back pain :( really sore...", "back pain :( really sore..."),
])
def test_runs_of_symbols_reach_the_bot_cut_to_a_few(rest: LiveServer, sent: str, received: str) -> None:
    """20,000 brackets cost the NLU over a second of the event loop every patient shares."""
    post(rest, {"message": sent})
    [message] = rest.dialogue.received
    assert message.text.strip() == received

NESTED = {"a": [{"b": [{"c": [{"d": [{"e": [{"f": [1]}]}]}]}]}]}
BAD_PAYLOADS = [
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"\xff\xfe\x00{", id="invalid-utf8"),
    pytest.param(b"", id="empty-body"),
    pytest.param(b"[1, 2]", id="array"),
    pytest.param(b'"hello"', id="string"),
    pytest.param(b"null", id="null"),
    pytest.param(b"[" * 20000 + b"]" * 20000, id="deep-array"),
    pytest.param(b'{"sender": "s", "message": ' + b"[" * 20000 + b"]" * 20000 + b"}",
                 id="deep-message"),
    pytest.param({"sender": "", "message": "hi"}, id="empty-sender"),
    pytest.param({"sender": 42, "message": "hi"}, id="number-sender"),
    pytest.param({"sender": ["s"], "message": "hi"}, id="list-sender"),
    pytest.param({"sender": "s" * 129, "message": "hi"}, id="long-sender"),
    pytest.param({"sender": "bad sender!", "message": "hi"}, id="sender-chars"),
    pytest.param({"sender": "s\x00", "message": "hi"}, id="sender-nul"),
    # a messaging conversation ("<channel>:<phone number>") cannot be reached without its signature
    pytest.param({"sender": "twilio:whatsapp:+447700900123", "message": "hi"}, id="sender-of-a-messaging-channel"),
    pytest.param({"sender": "telegram:4242", "message": "hi"}, id="sender-of-telegram"),
    pytest.param({"sender": "s"}, id="no-message"),
    pytest.param({"sender": "s", "message": None}, id="null-message"),
    pytest.param({"sender": "s", "message": 5}, id="number-message"),
    pytest.param({"sender": "s", "message": ["hi"]}, id="list-message"),
    pytest.param({"sender": "s", "message": NESTED}, id="object-message"),
    pytest.param({"sender": "s", "message": "x" * (get_settings().max_message_chars + 1)}, id="long-message"),
    pytest.param({"sender": "s", "message": "hi", "metadata": "{not json"}, id="metadata-text"),
    pytest.param({"sender": "s", "message": "hi", "metadata": [1]}, id="metadata-list"),
    pytest.param({"sender": "s", "message": "hi", "metadata": {"x": NESTED}},
                 id="metadata-deep"),
    pytest.param({"sender": "s", "message": "hi", "metadata": {"x": "y" * 9000}},
                 id="metadata-large"),
]


@pytest.mark.parametrize("payload", BAD_PAYLOADS)
def test_bad_payloads_get_400_and_never_reach_the_dialogue(rest: LiveServer, payload: Any
                                                           ) -> None:
    reply = post(rest, data=payload) if isinstance(payload, bytes) else post(rest, payload)
    assert reply.status_code == 400, reply.text
    assert isinstance(reply.json()["error"], str)
    assert rest.dialogue.received == []


def test_a_failed_turn_still_gives_the_advice_for_an_emergency_in_the_message(rest: LiveServer) -> None:
    replies = post(rest, {"message": f"{CRASH}: I can't feel it when I wipe"}).json()
    assert replies[0]["custom"]["triage"]["level"] == "emergency", "read from the message alone"
    assert replies[0]["text"].startswith(f"This could be serious. Please call {EMERGENCY_NUMBER} now.")
    assert texts(replies[1:]) == [emergency_line(), FALLBACK_TEXT]


def test_stream_mode_is_refused(rest: LiveServer) -> None:
    reply = post(rest, {"sender": "s", "message": "hi"}, params={"stream": "true"})
    assert reply.status_code == 400 and rest.dialogue.received == []


def test_bodies_over_the_channel_limit_get_413(monkeypatch: pytest.MonkeyPatch,
                                               serve: Callable[..., LiveServer]) -> None:
    monkeypatch.setenv("CLINIC_MAX_BODY_BYTES", "1000")
    server = serve(ClinicRestInput())
    reply = post(server, {"message": "x" * 1000})
    assert reply.status_code == 413 and "error" in reply.json()
    assert post(server, {"message": "x" * 900}).status_code == 200


def test_sanic_request_max_size_caps_every_route(monkeypatch: pytest.MonkeyPatch,
                                                 serve: Callable[..., LiveServer]) -> None:
    monkeypatch.setenv("SANIC_REQUEST_MAX_SIZE", "2000")  # read when the Sanic app is made
    server = serve(ClinicRestInput())
    assert server.app.config.REQUEST_MAX_SIZE == 2000
    assert post(server, {"sender": "s", "message": "x" * 3000}).status_code == 413
    assert server.dialogue.received == []


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=40),
                 lambda inner: st.lists(inner, max_size=4)
                 | st.dictionaries(st.sampled_from(["sender", "message", "metadata", "x"]),
                                   inner, max_size=4),
                 max_leaves=20).map(lambda value: json.dumps(value).encode()),
))
def test_fuzzed_bodies_never_get_a_5xx(rest: LiveServer, body: bytes) -> None:
    assert post(rest, data=body).status_code in (200, 400, 401, 403)


# --- Rate limiting --------------------------------------------------------------------------

def limit_env(monkeypatch: pytest.MonkeyPatch, sender_burst: int, ip_burst: int = 1000) -> None:
    monkeypatch.setenv("CLINIC_RATE_LIMIT_PER_MINUTE", "1")
    monkeypatch.setenv("CLINIC_RATE_LIMIT_BURST", str(sender_burst))
    monkeypatch.setenv("CLINIC_RATE_LIMIT_IP_PER_MINUTE", "1")
    monkeypatch.setenv("CLINIC_RATE_LIMIT_IP_BURST", str(ip_burst))


def assert_limited(reply: requests.Response, sender: str) -> None:
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "60"
    messages = reply.json()
    assert messages[0] == {"recipient_id": sender, "text": emergency_line()}
    assert all(message["recipient_id"] == sender for message in messages)


def test_senders_are_limited_one_by_one(monkeypatch: pytest.MonkeyPatch,
                                        serve: Callable[..., LiveServer]) -> None:
    limit_env(monkeypatch, sender_burst=3)
    server = serve(ClinicRestInput())
    flood = Patient(server)
    for _ in range(3):
        assert flood.say("hi").status_code == 200
    assert_limited(flood.say("hi"), flood.id)
    assert Patient(server).say("hi").status_code == 200
    assert server.dialogue.texts.count("hi") == 4  # the limited one never reached it


def test_one_address_is_limited_across_senders(monkeypatch: pytest.MonkeyPatch,
                                               serve: Callable[..., LiveServer]) -> None:
    limit_env(monkeypatch, sender_burst=100, ip_burst=2)
    server = serve(ClinicRestInput())
    assert Patient(server).say("hi").status_code == 200
    assert Patient(server).say("hi").status_code == 200
    third = Patient(server)
    assert_limited(third.say("hi"), third.id)


def test_replicas_share_limits_through_redis(monkeypatch: pytest.MonkeyPatch,
                                             serve: Callable[..., LiveServer],
                                             redis_prefix: str) -> None:
    limit_env(monkeypatch, sender_burst=3)
    replica_a, replica_b = serve(ClinicRestInput()), serve(ClinicRestInput())
    flood = Patient(replica_a)
    assert flood.say("hi", replica_a).status_code == 200
    assert flood.say("hi", replica_b).status_code == 200  # the replicas share the secret key
    assert flood.say("hi", replica_a).status_code == 200
    assert_limited(flood.say("hi", replica_b), flood.id)
    keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(f"{redis_prefix}*"))
    assert keys and not any(flood.id.encode() in key for key in keys)  # identities are hashed


def test_unreachable_redis_degrades_to_memory_limits(monkeypatch: pytest.MonkeyPatch,
                                                     serve: Callable[..., LiveServer],
                                                     caplog: pytest.LogCaptureFixture
                                                     ) -> None:
    limit_env(monkeypatch, sender_burst=2)
    monkeypatch.setenv("CLINIC_REDIS_URL", "redis://127.0.0.1:9/0")  # nothing listens there
    server = serve(ClinicRestInput())
    patient = Patient(server)
    with caplog.at_level(logging.WARNING, logger="bot.channels.ratelimit"):
        assert patient.say("hi").status_code == 200
        assert patient.say("hi").status_code == 200
        assert_limited(patient.say("hi"), patient.id)
    warnings = [r for r in caplog.records if "degraded to in-memory" in r.getMessage()]
    assert len(warnings) == 1


# --- Who may continue a conversation ---------------------------------------------------------

def test_a_new_conversation_gets_an_id_made_by_the_server(rest: LiveServer) -> None:
    first, second = post(rest, {"message": "hi"}), post(rest, {"message": "hi"})
    ids = [reply.headers[ID_HEADER] for reply in (first, second)]
    assert ids[0] != ids[1] and all(len(i) == 32 for i in ids)
    assert [m.sender_id for m in rest.dialogue.received] == ids


def test_a_conversation_continues_with_its_token(rest: LiveServer) -> None:
    patient = Patient(rest)
    patient.say("question")
    started_as = patient.id
    assert patient.say("2").json()[0]["recipient_id"] == started_as
    assert [m.sender_id for m in rest.dialogue.received] == [started_as, started_as]


def test_a_known_id_cannot_hijack_the_conversation(rest: LiveServer,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    victim = Patient(rest)
    victim.say("numbness")
    attacker = Patient(rest)
    attacker.say("hello")
    forged = victim.token[:-4] + ("AAAA" if not victim.token.endswith("AAAA") else "BBBB")
    with caplog.at_level(logging.WARNING):
        refused = [
            post(rest, {"sender": victim.id, "message": "/restart"}),  # the id alone
            post(rest, {"sender": victim.id, "token": attacker.token, "message": "/restart"}),
            post(rest, {"sender": victim.id, "token": forged, "message": "/restart"}),
            post(rest, {"token": forged, "message": "/restart"}),
            post(rest, {"sender": victim.id, "token": 42, "message": "/restart"}),
        ]
    assert [reply.status_code for reply in refused] == [401, 403, 403, 403, 403]
    assert all(victim.id not in reply.text for reply in refused), "nothing of the conversation"
    assert [m.text for m in rest.dialogue.received if m.sender_id == victim.id] == ["numbness"]
    assert "/restart" not in rest.dialogue.texts
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == len(refused)
    assert not any(victim.id in line or victim.token in line for line in caplog.text.splitlines())


def test_a_lapsed_token_is_refused(rest: LiveServer) -> None:
    class IssuedYesterday(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 25 * 3600  # CLINIC_WEB_CONVERSATION_HOURS is 24

    patient = Patient(rest)
    patient.say("hello")
    lapsed = URLSafeTimedSerializer(SECRET_KEY, salt=TOKEN_SALT, signer=IssuedYesterday).dumps(patient.id)
    reply = post(rest, {"sender": patient.id, "token": lapsed, "message": "hello"})
    assert reply.status_code == 403
    fresh = URLSafeTimedSerializer(SECRET_KEY, salt=TOKEN_SALT).dumps(patient.id)
    assert post(rest, {"sender": patient.id, "token": fresh, "message": "hello"}).status_code == 200


def test_a_service_client_with_the_key_may_name_the_conversation(
        monkeypatch: pytest.MonkeyPatch, serve: Callable[..., LiveServer]) -> None:
    monkeypatch.setenv("CLINIC_REST_SERVICE_KEY", "service-key-for-tests")
    server = serve(ClinicRestInput())
    named = {"sender": "bench-1", "message": "hi"}
    reply = post(server, named, headers={"Authorization": "Bearer service-key-for-tests"})
    assert reply.status_code == 200 and reply.json()[0]["recipient_id"] == "bench-1"
    assert post(server, named, headers={"Authorization": "Bearer guess"}).status_code == 403
    assert post(server, named).status_code == 401
    assert [m.sender_id for m in server.dialogue.received] == ["bench-1"]


def test_without_a_service_key_no_client_may_name_a_conversation(rest: LiveServer) -> None:
    reply = post(rest, {"sender": "bench-1", "message": "hi"}, headers={"Authorization": "Bearer "})
    assert reply.status_code == 401
    reply = post(rest, {"sender": "bench-1", "message": "hi"}, headers={"Authorization": "Bearer x"})
    assert reply.status_code == 403 and rest.dialogue.received == []
