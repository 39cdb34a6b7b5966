"""The credentials file: only channels whose secrets are set, loadable by Rasa."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
from rasa.core.run import configure_app, create_http_input_channels
from rasa.shared.exceptions import InvalidConfigException

from bot.channels import credentials
from bot.channels.facebook import ClinicFacebookInput
from bot.channels.rest import ClinicRestInput
from bot.channels.slack import ClinicSlackInput
from bot.channels.socketio import ClinicSocketIOInput
from bot.channels.telegram import ClinicTelegramInput
from bot.channels.twilio import ClinicTwilioInput

TEMPLATE = Path(__file__).resolve().parents[2] / "bot" / "credentials.yml"
SECRETS = {
    "TELEGRAM_TOKEN": "123456:telegram-secret-token", "TELEGRAM_SECRET_TOKEN": "tg-header-secret",
    "TELEGRAM_WEBHOOK_URL": "https://clinic.example/webhooks/telegram/webhook",
    "SLACK_TOKEN": "xoxb-slack-secret", "SLACK_SIGNING_SECRET": "slack-signing-secret",
    "FACEBOOK_VERIFY_TOKEN": "fb-verify-secret", "FACEBOOK_APP_SECRET": "fb-app-secret",
    "FACEBOOK_PAGE_ACCESS_TOKEN": "fb-page-secret",
    "TWILIO_ACCOUNT_SID": "AC-twilio-sid", "TWILIO_AUTH_TOKEN": "twilio-auth-secret",
    "TWILIO_NUMBER": "+15005550006", "TWILIO_WEBHOOK_URL": "https://clinic.example/webhooks/twilio/webhook",
}
ALL_CLASSES = [ClinicRestInput, ClinicSocketIOInput, ClinicTelegramInput, ClinicSlackInput,
               ClinicFacebookInput, ClinicTwilioInput]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for spec in credentials.CHANNELS:
        for var in [*spec.required.values(), *spec.optional.values()]:
            monkeypatch.delenv(var, raising=False)


def set_env(monkeypatch: pytest.MonkeyPatch, values: Dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_the_committed_template_is_up_to_date() -> None:
    assert TEMPLATE.read_text() == credentials.credentials_yaml(credentials.CHANNELS), (
        "regenerate it: python -m bot.channels.credentials --all bot/credentials.yml")


def test_rasa_loads_every_channel_from_the_template(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, SECRETS)
    channels = create_http_input_channels(None, str(TEMPLATE))
    assert [type(channel) for channel in channels] == ALL_CLASSES
    socketio = channels[1]
    assert socketio.session_persistence is True
    assert (socketio.user_message_evt, socketio.bot_message_evt) == ("user_uttered",
                                                                     "bot_uttered")


def test_rasa_mounts_every_webhook_where_the_readme_says(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    set_env(monkeypatch, SECRETS)
    app = configure_app(create_http_input_channels(None, str(TEMPLATE)), enable_api=False,
                        route="/webhooks/")
    paths = {"/" + route.path for route in app.router.routes}
    assert {"/webhooks/rest/webhook", "/socket.io", "/webhooks/telegram/webhook",
            "/webhooks/slack/webhook", "/webhooks/facebook/webhook",
            "/webhooks/twilio/webhook"} <= paths


def test_only_channels_with_all_their_secrets_are_written(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    telegram_only = {k: v for k, v in SECRETS.items() if k.startswith("TELEGRAM")}
    set_env(monkeypatch, {**telegram_only, "SLACK_TOKEN": SECRETS["SLACK_TOKEN"],
                          "TWILIO_ACCOUNT_SID": "AC-twilio-sid", "TWILIO_AUTH_TOKEN": "twilio-auth-secret",
                          "TWILIO_NUMBER": "+15005550006"})
    out = tmp_path / "credentials.yml"
    assert credentials.main([str(out)]) == 0

    channels = create_http_input_channels(None, str(out))
    assert [type(channel) for channel in channels] == [
        ClinicRestInput, ClinicSocketIOInput, ClinicTelegramInput]
    assert channels[2].secret_token == SECRETS["TELEGRAM_SECRET_TOKEN"]

    printed = capsys.readouterr().out
    assert "channel telegram: enabled" in printed
    assert "channel slack: disabled (set SLACK_SIGNING_SECRET)" in printed
    assert "channel twilio: disabled (set TWILIO_WEBHOOK_URL)" in printed
    written = out.read_text()
    for secret in SECRETS.values():
        assert secret not in printed and secret not in written
    assert "${TELEGRAM_TOKEN}" in written and "twilio" not in written


def test_optional_settings_are_written_only_when_set(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    set_env(monkeypatch, {**SECRETS, "TWILIO_WHATSAPP_NUMBER": "whatsapp:+14155238886"})
    out = tmp_path / "credentials.yml"
    credentials.main([str(out)])
    written = out.read_text()
    assert "twilio_whatsapp_number: ${TWILIO_WHATSAPP_NUMBER}" in written
    assert "TELEGRAM_API_URL" not in written
    twilio = create_http_input_channels(None, str(out))[-1]
    assert twilio.webhook_url == SECRETS["TWILIO_WEBHOOK_URL"]
    assert twilio.whatsapp_number == "whatsapp:+14155238886"


def test_rasa_refuses_to_start_twilio_without_its_webhook_url(tmp_path: Path) -> None:
    """A credentials file written by hand: the server does not start, and says what is missing."""
    hand_written = tmp_path / "credentials.yml"
    hand_written.write_text("bot.channels.twilio.ClinicTwilioInput:\n  account_sid: AC1\n"
                            "  auth_token: secret\n  twilio_number: '+15005550006'\n")
    with pytest.raises(InvalidConfigException, match="TWILIO_WEBHOOK_URL"):
        create_http_input_channels(None, str(hand_written))


def test_a_telegram_secret_token_telegram_would_refuse_is_a_config_error() -> None:
    with pytest.raises(InvalidConfigException):
        ClinicTelegramInput.from_credentials({"access_token": "1:x", "webhook_url": "u",
                                              "secret_token": "has spaces"})
