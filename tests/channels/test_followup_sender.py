"""Sending due check-ins (`python -m bot.followups send-due`): through a fake gateway, then through
the real Twilio and Telegram adapters against local fakes of their APIs. Off unless configured,
and then it says why it sent nothing."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from channel_harness import EMERGENCY_NUMBER
from channel_platforms import Telegram, Twilio
from sqlalchemy import select

from bot import followups as sender
from storage.db import dispose_engine, get_engine, session_factory
from storage.migrate import upgrade
from storage.models import FollowUp
from storage.repository import Repository

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
CONTACT = {"emergency_number": EMERGENCY_NUMBER, "urgent_number": "111", "clinic_phone": "01632 960000",
           "clinic_hours": "Mon-Fri 08:00-18:00", "clinic_name": "the clinic"}
GATEWAY_VARIABLES = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_NUMBER", "TWILIO_WEBHOOK_URL",
                     "TWILIO_API_URL", "TELEGRAM_TOKEN", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_SECRET_TOKEN",
                     "TELEGRAM_API_URL", "SLACK_TOKEN", "SLACK_SIGNING_SECRET")


class FakeGateway:
    def __init__(self, fail_with: Exception | None = None) -> None:
        self.sent: list[tuple[str, list[dict]]] = []
        self.fail_with = fail_with
        self.closed = False

    async def send(self, recipient_id: str, messages: list[dict]) -> None:
        if self.fail_with:
            raise self.fail_with
        self.sent.append((recipient_id, messages))

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def engine(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    monkeypatch.setenv("CLINIC_DATABASE_URL", url)
    for name in GATEWAY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    upgrade(url)
    yield get_engine(url)
    dispose_engine(url)


def schedule(engine, conversation_id="web-1", channel="socketio", method="sms", number="+447911123456",
             presentation="low_back_pain", days_ago=15, after_days=14):
    Repository(engine).record_follow_up(
        conversation_id=conversation_id, channel=channel, contact_method=method,
        contact_value=number if method == "sms" else "", presentation=presentation, presentations=[presentation],
        level="self_care", after_days=after_days, created_at=NOW - timedelta(days=days_ago))


def stored(engine) -> dict[str, FollowUp]:
    with session_factory(engine)() as session:
        return {row.conversation_id: row for row in session.execute(select(FollowUp)).scalars()}


def send(engine, gateways, now=NOW):
    return asyncio.run(sender.send_due(engine, gateways, CONTACT, now))


def test_due_check_ins_go_to_the_number_or_the_chat_and_later_ones_wait(engine):
    schedule(engine)
    schedule(engine, "telegram:777", "telegram", "chat")
    schedule(engine, "twilio:+447911654321", "twilio", "chat", presentation="calf_strain")
    schedule(engine, "web-later", days_ago=3)
    sms, telegram = FakeGateway(), FakeGateway()
    tally = send(engine, {"sms": sms, "telegram": telegram})
    assert (tally.sent, tally.failed) == (3, 0)
    assert [recipient for recipient, _ in sms.sent] == ["+447911123456", "+447911654321"]
    assert [recipient for recipient, _ in telegram.sent] == ["777"]
    back = "\n".join(m["text"] for m in sms.sent[0][1])
    assert "Is your back better?" in back and "after 2 weeks" in back
    assert f"call {EMERGENCY_NUMBER}" in back.splitlines()[-1], "it ends with what to do if it got worse"
    assert "Is your calf better?" in sms.sent[1][1][0]["text"]
    rows = stored(engine)
    assert {cid: (row.status, row.contact_value) for cid, row in rows.items()} == {
        "web-1": ("sent", ""), "telegram:777": ("sent", ""), "twilio:+447911654321": ("sent", ""),
        "web-later": ("scheduled", "+447911123456")}


def test_each_check_in_is_sent_once(engine):
    schedule(engine)
    gateway = FakeGateway()
    send(engine, {"sms": gateway})
    send(engine, {"sms": gateway}, NOW + timedelta(hours=1))
    assert len(gateway.sent) == 1


def test_a_failed_send_is_tried_on_the_next_runs_then_given_up_and_the_number_dropped(engine):
    schedule(engine)
    broken = FakeGateway(fail_with=ConnectionError("+447911123456 unreachable"))
    for run in range(3):
        tally = send(engine, {"sms": broken}, NOW + timedelta(hours=run))
        assert tally.failed == 1
    row = stored(engine)["web-1"]
    assert (row.status, row.attempts, row.contact_value, row.last_error) == ("failed", 3, "", "ConnectionError")
    assert tally.gave_up == 1 and "+44" not in tally.summary()


def test_a_check_in_with_no_way_to_send_it_stays_scheduled(engine):
    schedule(engine, "telegram:777", "telegram", "chat")
    tally = send(engine, {"sms": FakeGateway()})
    assert tally.waiting == {"telegram": 1} and stored(engine)["telegram:777"].status == "scheduled"


def test_off_unless_configured_and_it_says_why(engine, monkeypatch, capsys):
    schedule(engine)
    assert sender.main(["send-due", "--any-time"]) == 0
    assert "check-ins are off" in capsys.readouterr().out
    monkeypatch.setenv("CLINIC_FOLLOW_UPS_ENABLED", "true")
    assert sender.main(["send-due", "--any-time"]) == 0
    assert "1 check-in(s) due, none sent: no way to send is configured" in capsys.readouterr().out
    monkeypatch.setenv("CLINIC_HOURS", "Sat 00:00-00:01")
    assert sender.main(["send-due"]) == 0
    assert "the clinic is closed" in capsys.readouterr().out
    assert stored(engine)["web-1"].status == "scheduled"


def test_sent_through_the_twilio_and_telegram_adapters(engine, monkeypatch, serve):
    schedule(engine)
    schedule(engine, "telegram:777", "telegram", "chat", presentation="exercise_soreness", after_days=7)
    server = serve()
    twilio, telegram = Twilio(), Telegram()
    monkeypatch.setenv("CLINIC_FOLLOW_UPS_ENABLED", "true")
    for name, value in {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": twilio.auth_token,
                        "TWILIO_NUMBER": twilio.number, "TWILIO_API_URL": server.url("/fake/twilio"),
                        "TELEGRAM_TOKEN": telegram.token, "TELEGRAM_WEBHOOK_URL": "https://clinic.example/telegram",
                        "TELEGRAM_SECRET_TOKEN": telegram.secret,
                        "TELEGRAM_API_URL": server.url("/fake/telegram")}.items():
        monkeypatch.setenv(name, value)
    assert sender.main(["send-due", "--any-time"]) == 0
    [sms] = server.platforms.of("twilio", "Messages.json")
    assert (sms["To"], sms["From"]) == ("+447911123456", twilio.number)
    assert sms["Body"].startswith("Hello from the clinic.") and "Is your back better?" in sms["Body"]
    [chat] = telegram.sent(server)
    assert chat.extra == {"chat_id": "777"} and "Has the soreness gone?" in chat.text
    assert {row.status for row in stored(engine).values()} == {"sent"}
