"""Telegram, Slack, Messenger, Twilio SMS and WhatsApp: the same checks on every platform
(signed requests answered, forged ones rejected, rendering), then each one's own."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable, List, Optional

import pytest
import requests
from channel_harness import (
    CRASH,
    EMERGENCY_TEXT,
    FOLLOW_UP,
    PLAN_STEPS,
    QUESTION,
    LiveServer,
    dumps,
    emergency_line,
    wait_for,
)
from channel_platforms import (
    PLATFORMS,
    Messenger,
    Platform,
    Sent,
    Slack,
    Telegram,
    Twilio,
    WhatsApp,
)
from rasa.shared.exceptions import InvalidConfigException

from bot.channels.rendering import RATE_LIMITED_TEXT
from bot.channels.replay import ReplayGuard
from bot.channels.twilio import ClinicTwilioInput

UNSIGNED_LABELS = {"unsigned", "no-secret", "empty-secret", "sha1-only"}


def turns_done(server: LiveServer) -> None:
    """Wait for background turns (Slack's); the other channels answer before returning."""
    channel = server.channels[0]
    wait_for(lambda: not getattr(channel, "_background_tasks", ()))


def converse(platform: Platform, server: LiveServer, text: str,
             sender: Optional[str] = None) -> List[Sent]:
    """Send a signed user message; return what the platform's API got in answer."""
    already_sent = len(platform.sent(server))
    reply = platform.say(server, text, sender)
    assert reply.status_code in (200, 204), reply.text
    turns_done(server)
    return platform.sent(server)[already_sent:]


def nothing_happened(platform: Platform, server: LiveServer) -> None:
    turns_done(server)
    assert server.dialogue.received == []
    assert platform.sent(server) == []


def start(serve: Callable[..., LiveServer], platform: Platform) -> LiveServer:
    return serve(lambda base_url: [platform.channel(base_url)])


@pytest.fixture(params=PLATFORMS, ids=lambda platform: platform.name)
def platform(request: pytest.FixtureRequest) -> Platform:
    return request.param


@pytest.fixture
def server(serve: Callable[..., LiveServer], platform: Platform) -> LiveServer:
    return start(serve, platform)


# --- Every platform ------------------------------------------------------------------------

def test_a_signed_message_is_answered(platform: Platform, server: LiveServer) -> None:
    [sent] = converse(platform, server, "question")
    if platform.native_buttons:
        assert sent.text == QUESTION["text"]
        assert sent.buttons == QUESTION["buttons"]
    else:
        assert sent.text == f"{QUESTION['text']}\n\nReply 1 for Yes, 2 for No, 3 for Not sure"
    [received] = server.dialogue.received
    assert received.text == "question"
    assert received.input_channel == server.channels[0].name()


def test_forged_and_unsigned_requests_never_reach_the_dialogue(
        platform: Platform, server: LiveServer) -> None:
    for label, body, headers in platform.forgeries(server, platform.sender, "question"):
        reply = platform.post(server, body, headers)
        expected = 401 if label in UNSIGNED_LABELS else 403
        assert reply.status_code == expected, (label, reply.status_code, reply.text)
    nothing_happened(platform, server)


def test_malformed_signed_requests_get_400(platform: Platform, server: LiveServer) -> None:
    for label, body, headers in platform.malformed(server):
        reply = platform.post(server, body, headers)
        assert reply.status_code == 400, (label, reply.status_code, reply.text)
    nothing_happened(platform, server)


def test_the_escalation_is_sent_first(platform: Platform, server: LiveServer) -> None:
    sent = converse(platform, server, "late emergency")
    assert [message.text for message in sent] == [EMERGENCY_TEXT, FOLLOW_UP["text"]]


def test_a_long_plan_is_split_to_the_platform_limit(platform: Platform, server: LiveServer
                                                    ) -> None:
    sent = converse(platform, server, "plan")
    assert len(sent) >= 2
    assert all(len(message.text) <= platform.limit for message in sent)
    joined = "\n\n".join(message.text for message in sent)
    assert joined.startswith("Here is your self-care plan.")
    for step in PLAN_STEPS:
        assert f"{step['title']}\n" in joined and step["text"] in joined


def test_a_numbered_reply_becomes_the_button_payload(platform: Platform, server: LiveServer
                                                     ) -> None:
    converse(platform, server, "question")
    converse(platform, server, " 2 ")
    assert server.dialogue.received[-1].text == "/deny"
    converse(platform, server, "2")  # no options pending: the text stays as it is
    assert server.dialogue.received[-1].text == "2"


def test_each_sender_is_rate_limited_and_told_once(platform: Platform, server: LiveServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_RATE_LIMIT_PER_MINUTE", "1")
    monkeypatch.setenv("CLINIC_RATE_LIMIT_BURST", "2")
    for _ in range(2):
        converse(platform, server, "question")
    told = converse(platform, server, "question")
    assert RATE_LIMITED_TEXT in " ".join(message.text for message in told)
    assert converse(platform, server, "question") == [], "one notice, not one per message"
    assert server.dialogue.texts == ["question", "question"], "the limited ones never reached it"
    converse(platform, server, "question", sender=platform.other_sender)  # another patient is served
    assert len(server.dialogue.texts) == 3


def test_a_failing_dialogue_still_sends_the_emergency_line(platform: Platform,
                                                           server: LiveServer) -> None:
    sent = converse(platform, server, CRASH)
    assert sent[0].text == emergency_line()


def test_a_failing_dialogue_still_sends_the_advice_for_an_emergency_in_the_message(
        platform: Platform, server: LiveServer) -> None:
    sent = converse(platform, server, f"{CRASH}: I can't feel it when I wipe")
    assert sent[0].text.startswith("This could be serious"), "the advice, read from the message alone, first"
    assert any(message.text == emergency_line() for message in sent[1:])


def test_a_replayed_delivery_runs_one_turn(platform: Platform, server: LiveServer) -> None:
    """A platform's retry, or a captured signed request sent again: answered 200, no second turn."""
    body, headers = platform.text_request(server, platform.sender, "question")
    first = platform.post(server, body, headers)
    turns_done(server)
    answered = len(platform.sent(server))
    again = platform.post(server, body, headers)
    turns_done(server)
    assert first.status_code == again.status_code and again.status_code in (200, 204)
    assert server.dialogue.texts == ["question"]
    assert len(platform.sent(server)) == answered, "nothing is sent twice"
    converse(platform, server, "question")  # a new message (its own id) is still answered
    assert server.dialogue.texts == ["question", "question"]


def test_replays_are_caught_across_replicas_through_redis(
        platform: Platform, serve: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch,
        redis_prefix: str) -> None:
    monkeypatch.setenv("CLINIC_WEBHOOK_REPLAY_PREFIX", redis_prefix)
    replica_a, replica_b = start(serve, platform), start(serve, platform)
    body, headers = platform.text_request(replica_a, platform.sender, "question")
    assert platform.post(replica_a, body, headers).status_code in (200, 204)
    assert platform.post(replica_b, body, headers).status_code in (200, 204)
    turns_done(replica_a), turns_done(replica_b)
    assert replica_a.dialogue.texts == ["question"] and replica_b.dialogue.texts == []


# --- Telegram --------------------------------------------------------------------------

def test_telegram_registers_its_webhook_with_the_secret_token(
        serve: Callable[..., LiveServer]) -> None:
    telegram = Telegram()
    server = start(serve, telegram)
    [registration] = server.platforms.of("telegram", "setWebhook")
    assert registration == {"url": "https://clinic.example/telegram",
                            "secret_token": telegram.secret}


def test_telegram_button_taps_arrive_as_payloads(serve: Callable[..., LiveServer]) -> None:
    telegram = Telegram()
    server = start(serve, telegram)
    body, headers = telegram.update({"callback_query": {
        "id": "cb-1", "data": "/affirm", "from": {"id": 777},
        "message": {"message_id": 5, "date": 0, "chat": {"id": 777, "type": "private"}}}})
    assert telegram.post(server, body, headers).status_code == 200
    assert server.dialogue.texts == ["/affirm"]
    assert server.platforms.of("telegram", "answerCallbackQuery") == [
        {"callback_query_id": "cb-1"}]


def test_telegram_ignores_updates_without_text(serve: Callable[..., LiveServer]) -> None:
    telegram = Telegram()
    server = start(serve, telegram)
    body, headers = telegram.update({"message": {
        "message_id": 1, "date": 0, "chat": {"id": 777, "type": "private"},
        "photo": [{"file_id": "f"}]}})
    assert telegram.post(server, body, headers).status_code == 200
    assert server.dialogue.received == []


# --- Slack -----------------------------------------------------------------------------

def test_slack_url_verification_is_answered(serve: Callable[..., LiveServer]) -> None:
    slack = Slack()
    server = start(serve, slack)
    reply = slack.post(server, *slack.signed(dumps({"type": "url_verification",
                                                   "challenge": "abc123"})))
    assert reply.json() == {"challenge": "abc123"}


def test_slack_button_clicks_arrive_as_payloads(serve: Callable[..., LiveServer]) -> None:
    slack = Slack()
    server = start(serve, slack)
    payload = {"type": "block_actions", "user": {"id": slack.sender},
               "channel": {"id": "D0DIRECT"}, "message": {"ts": "1.1"},
               "actions": [{"type": "button", "value": "/affirm"}]}
    body = b"payload=" + requests.utils.quote(json.dumps(payload)).encode()
    reply = slack.post(server, *slack.signed(body, "application/x-www-form-urlencoded"))
    assert reply.status_code == 200
    turns_done(server)
    [sent] = slack.sent(server)
    assert server.dialogue.texts == ["/affirm"]
    assert sent.extra["channel"] == "D0DIRECT"


def test_slack_ignores_bot_messages_and_timeout_retries(serve: Callable[..., LiveServer]
                                                        ) -> None:
    slack = Slack()
    server = start(serve, slack)
    bot_event = dumps({"type": "event_callback", "event": {
        "type": "message", "channel_type": "im", "channel": "D1", "user": "U1",
        "bot_id": "B1", "text": "from the bot"}})
    assert slack.post(server, *slack.signed(bot_event)).status_code == 200
    body, headers = slack.text_request(server, slack.sender, "question")
    retry = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    reply = slack.post(server, body, retry)
    assert reply.status_code == 201 and reply.headers["X-Slack-No-Retry"] == "1"
    nothing_happened(slack, server)


# --- Messenger -------------------------------------------------------------------------

def test_messenger_subscription_needs_the_verify_token(serve: Callable[..., LiveServer]
                                                       ) -> None:
    messenger = Messenger()
    server = start(serve, messenger)
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    ok = requests.get(messenger.url(server), timeout=10,
                      params={**query, "hub.verify_token": "fb-verify-token"})
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = requests.get(messenger.url(server), timeout=10,
                         params={**query, "hub.verify_token": "guess"})
    assert wrong.status_code == 403


def test_messenger_handles_every_event_of_a_delivery(serve: Callable[..., LiveServer]) -> None:
    messenger = Messenger()
    server = start(serve, messenger)
    quick_reply = {"sender": {"id": "PSID-1"}, "message": {
        "mid": "m2", "text": "Yes", "quick_reply": {"payload": "/affirm"}}}
    postback = {"sender": {"id": "PSID-2"}, "postback": {"title": "No", "payload": "/deny"}}
    echo = {"sender": {"id": "PAGE"}, "message": {"is_echo": True, "text": "from the page"}}
    body, headers = messenger.signed(messenger.delivery(quick_reply, echo, postback))
    assert messenger.post(server, body, headers).status_code == 200
    assert [(m.sender_id, m.text) for m in server.dialogue.received] == [
        ("facebook:PSID-1", "/affirm"), ("facebook:PSID-2", "/deny")]  # stored under the channel
    assert [sent.extra["recipient"] for sent in messenger.sent(server)] == ["PSID-1", "PSID-2"]


# --- Twilio ----------------------------------------------------------------------------

@pytest.mark.parametrize("platform_class, from_number", [
    (Twilio, Twilio.number), (WhatsApp, Twilio.whatsapp_number)])
def test_twilio_answers_from_the_right_number(serve: Callable[..., LiveServer],
                                              platform_class: type, from_number: str) -> None:
    twilio = platform_class()
    server = start(serve, twilio)
    [sent] = converse(twilio, server, "hello")
    assert sent.extra == {"to": twilio.sender, "from": from_number}


@pytest.mark.parametrize("reply", ["1", " 1 ", "1.", "1)"])
def test_sms_numbered_reply_forms(serve: Callable[..., LiveServer], reply: str) -> None:
    sms = Twilio()
    server = start(serve, sms)
    converse(sms, server, "question")
    converse(sms, server, reply)
    assert server.dialogue.received[-1].text == "/affirm"


def test_twilio_checks_the_signature_against_the_configured_url_only(
        serve: Callable[..., LiveServer]) -> None:
    sms = Twilio()
    server = start(serve, sms)
    converse(sms, server, "question")  # signed for TWILIO_WEBHOOK_URL: accepted
    params = sms.params(sms.sender, "question")
    # Signed for the URL this server sees, or for one a client names in X-Forwarded-Host /
    # Host: refused, whatever the headers claim.
    for url, headers in [
            (server.url(sms.webhook), {}),
            ("https://attacker.example/webhooks/twilio/webhook",
             {"X-Forwarded-Host": "attacker.example", "X-Forwarded-Proto": "https"})]:
        body, signed = sms.signed(url, params)
        assert sms.post(server, body, {**signed, **headers}).status_code == 403
    assert server.dialogue.texts == ["question"]


@pytest.mark.parametrize("webhook_url", [None, "", "clinic.example/twilio", "ftp://clinic.example/x"])
def test_twilio_refuses_to_start_without_its_webhook_url(webhook_url: Optional[str]) -> None:
    with pytest.raises(InvalidConfigException, match="TWILIO_WEBHOOK_URL"):
        ClinicTwilioInput.from_credentials({
            "account_sid": "AC" + "0" * 32, "auth_token": Twilio.auth_token,
            "twilio_number": Twilio.number, "webhook_url": webhook_url})


def test_twilio_without_a_body_is_acknowledged(serve: Callable[..., LiveServer]) -> None:
    sms = Twilio()
    server = start(serve, sms)
    params = {**sms.params(sms.sender, ""), "NumMedia": "1"}
    del params["Body"]
    reply = sms.post(server, *sms.signed(sms.signed_url(server), params))
    assert reply.status_code == 204
    assert server.dialogue.received == []



# --- Replay guard without Redis ----------------------------------------------------------------

def test_replays_are_caught_in_memory_while_redis_is_down(monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CLINIC_REDIS_URL", "redis://127.0.0.1:9/0")  # nothing listens there
    guard = ReplayGuard("telegram")

    async def deliveries() -> List[bool]:
        return [await guard.first_time(update_id)
                for update_id in ("update-7f3a", "update-7f3a", "update-7f3b", None, None)]

    with caplog.at_level(logging.WARNING, logger="bot.channels.replay"):
        assert asyncio.run(deliveries()) == [True, False, True, True, True]  # no id: cannot be checked
    assert len([r for r in caplog.records if "degraded to in-memory" in r.getMessage()]) == 1
    assert "update-7f3a" not in caplog.text
