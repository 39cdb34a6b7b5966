"""How each messaging platform calls our webhook (signed as the platform signs) and how
our replies look at its API, for tests that run the same checks on every platform."""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import requests
from channel_harness import LiveServer, dumps
from twilio.request_validator import RequestValidator

from bot.channels.facebook import ClinicFacebookInput
from bot.channels.slack import ClinicSlackInput
from bot.channels.telegram import ClinicTelegramInput
from bot.channels.twilio import ClinicTwilioInput

TIMEOUT = 10
_message_numbers = itertools.count(1)


def next_message_number() -> int:
    """Each platform message has an id of its own (a repeated one is a replay)."""
    return next(_message_numbers)


@dataclass
class Sent:
    """One message as the platform's API received it."""
    text: str
    buttons: List[Dict[str, str]] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict)


# A forged request: (label, body, headers).
Forgery = Tuple[str, bytes, Dict[str, str]]


class Platform:
    name: str
    limit: int
    native_buttons: bool
    sender: str
    webhook = ""

    @property
    def other_sender(self) -> str:
        """Another patient on the same platform."""
        return self.sender[:-1] + ("9" if self.sender.endswith("8") else "8")

    def channel(self, base_url: str) -> Any:
        raise NotImplementedError

    def text_request(self, server: LiveServer, sender: str, text: str
                     ) -> Tuple[bytes, Dict[str, str]]:
        """Body and headers of a correctly signed user message."""
        raise NotImplementedError

    def forgeries(self, server: LiveServer, sender: str, text: str) -> List[Forgery]:
        raise NotImplementedError

    def malformed(self, server: LiveServer) -> List[Tuple[str, bytes, Dict[str, str]]]:
        """Correctly signed requests whose content is not acceptable."""
        raise NotImplementedError

    def sent(self, server: LiveServer) -> List[Sent]:
        raise NotImplementedError

    def url(self, server: LiveServer) -> str:
        return server.url(self.webhook)

    def say(self, server: LiveServer, text: str, sender: Optional[str] = None
            ) -> requests.Response:
        body, headers = self.text_request(server, sender or self.sender, text)
        return self.post(server, body, headers)

    def post(self, server: LiveServer, body: bytes, headers: Dict[str, str]
             ) -> requests.Response:
        return requests.post(self.url(server), data=body, headers=headers, timeout=TIMEOUT)


class Telegram(Platform):
    name, limit, native_buttons, sender = "telegram", 4096, True, "777"
    webhook = "/webhooks/telegram/webhook"
    token = "123456:TEST-token_for-the-fake-api"
    secret = "s3cret-Token_value"

    def channel(self, base_url: str) -> ClinicTelegramInput:
        return ClinicTelegramInput.from_credentials({
            "access_token": self.token, "webhook_url": "https://clinic.example/telegram",
            "secret_token": self.secret, "api_url": f"{base_url}/fake/telegram"})

    def update(self, update: Dict[str, Any], secret: Optional[str] = None
               ) -> Tuple[bytes, Dict[str, str]]:
        headers = {"Content-Type": "application/json",
                   "X-Telegram-Bot-Api-Secret-Token": secret or self.secret}
        return dumps({"update_id": next_message_number(), **update}), headers

    def text_request(self, server: LiveServer, sender: str, text: str
                     ) -> Tuple[bytes, Dict[str, str]]:
        return self.update({"message": {"message_id": 1, "date": 0, "text": text,
                                        "chat": {"id": int(sender), "type": "private"}}})

    def forgeries(self, server: LiveServer, sender: str, text: str) -> List[Forgery]:
        body, headers = self.text_request(server, sender, text)
        return [("wrong-secret", body, {**headers, "X-Telegram-Bot-Api-Secret-Token": "guess"}),
                ("no-secret", body, {"Content-Type": "application/json"}),
                ("empty-secret", body, {**headers, "X-Telegram-Bot-Api-Secret-Token": ""})]

    def malformed(self, server: LiveServer) -> List[Tuple[str, bytes, Dict[str, str]]]:
        _, headers = self.update({})
        return [(label, body, headers) for label, body in [
            ("not-json", b"{oops"), ("array", b"[]"), ("message-string", b'{"message": "hi"}'),
            ("no-chat", dumps({"message": {"text": "hi"}})),
            ("chat-id-text", dumps({"message": {"text": "hi", "chat": {"id": "x"}}})),
            ("callback-string", dumps({"callback_query": "x"}))]]

    def sent(self, server: LiveServer) -> List[Sent]:
        sent = []
        for body in server.platforms.of("telegram", "sendMessage"):
            keyboard = json.loads(body.get("reply_markup") or "{}").get("inline_keyboard", [])
            buttons = [{"title": button["text"], "payload": button["callback_data"]}
                       for row in keyboard for button in row]
            sent.append(Sent(body["text"], buttons, {"chat_id": body["chat_id"]}))
        return sent


class Slack(Platform):
    name, limit, native_buttons, sender = "slack", 3000, True, "U0PATIENT"
    webhook = "/webhooks/slack/webhook"
    signing_secret = "slack-signing-secret"

    def channel(self, base_url: str) -> ClinicSlackInput:
        return ClinicSlackInput.from_credentials({
            "slack_token": "xoxb-test", "slack_signing_secret": self.signing_secret,
            "api_url": f"{base_url}/fake/slack/api/"})

    def signed(self, body: bytes, content_type: str = "application/json",
               timestamp: Optional[int] = None, secret: Optional[str] = None
               ) -> Tuple[bytes, Dict[str, str]]:
        timestamp = int(time.time()) if timestamp is None else timestamp
        digest = hmac.new((secret or self.signing_secret).encode(),
                          f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
        return body, {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(timestamp),
                      "X-Slack-Signature": f"v0={digest}"}

    def event(self, sender: str, text: str) -> bytes:
        return dumps({"type": "event_callback", "event_id": f"Ev{next_message_number():08d}",
                      "authed_users": ["UBOT"], "event": {
            "type": "message", "channel_type": "im", "channel": "D0DIRECT", "user": sender,
            "text": text, "ts": "1700000000.000100"}})

    def text_request(self, server: LiveServer, sender: str, text: str
                     ) -> Tuple[bytes, Dict[str, str]]:
        return self.signed(self.event(sender, text))

    def forgeries(self, server: LiveServer, sender: str, text: str) -> List[Forgery]:
        body = self.event(sender, text)
        stale = self.signed(body, timestamp=int(time.time()) - 600)[1]
        future = self.signed(body, timestamp=int(time.time()) + 600)[1]
        forged = self.signed(body, secret="not-the-secret")[1]
        _, good = self.signed(body)
        tampered = self.event(sender, text + "!")
        return [("stale", body, stale), ("future", body, future), ("forged", body, forged),
                ("tampered-body", tampered, good),
                ("unsigned", body, {"Content-Type": "application/json"}),
                ("bad-timestamp", body, {**good, "X-Slack-Request-Timestamp": "soon"})]

    def malformed(self, server: LiveServer) -> List[Tuple[str, bytes, Dict[str, str]]]:
        form = "application/x-www-form-urlencoded"
        cases = [("not-json", self.signed(b"{oops")),
                 ("array", self.signed(b"[1]")),
                 ("form-without-payload", self.signed(b"a=1", form)),
                 ("form-payload-not-json", self.signed(b"payload=%7Boops", form)),
                 ("form-actions-not-list", self.signed(
                     b"payload=" + requests.utils.quote(json.dumps(
                         {"actions": "x", "user": {"id": "U1"}})).encode(), form)),
                 ("event-without-user", self.signed(dumps({"event": {
                     "type": "message", "channel_type": "im", "channel": "D1",
                     "text": "hi"}}))),
                 ("unknown-content-type", self.signed(b"hello", "text/plain"))]
        return [(label, body, headers) for label, (body, headers) in cases]

    def sent(self, server: LiveServer) -> List[Sent]:
        sent = []
        for body in server.platforms.of("slack", "chat.postMessage"):
            blocks = body.get("blocks") or []
            section = blocks[0]["text"]["text"]
            buttons = [{"title": element["text"]["text"], "payload": element["value"]}
                       for block in blocks if block["type"] == "actions"
                       for element in block["elements"]]
            sent.append(Sent(section, buttons, {"channel": body["channel"],
                                                "text": body["text"]}))
        return sent


class Messenger(Platform):
    name, limit, native_buttons, sender = "facebook", 2000, True, "PSID-1"
    webhook = "/webhooks/facebook/webhook"
    app_secret = "fb-app-secret"

    def channel(self, base_url: str) -> ClinicFacebookInput:
        return ClinicFacebookInput.from_credentials({
            "verify": "fb-verify-token", "secret": self.app_secret,
            "page-access-token": "page-token", "api_url": f"{base_url}/fake/graph"})

    def signed(self, body: bytes, secret: Optional[str] = None) -> Tuple[bytes, Dict[str, str]]:
        digest = hmac.new((secret or self.app_secret).encode(), body, hashlib.sha256)
        return body, {"Content-Type": "application/json",
                      "X-Hub-Signature-256": f"sha256={digest.hexdigest()}"}

    def delivery(self, *events: Dict[str, Any]) -> bytes:
        return dumps({"object": "page", "entry": [
            {"id": "PAGE", "time": 0, "messaging": list(events)}]})

    def text_event(self, sender: str, text: str) -> Dict[str, Any]:
        return {"sender": {"id": sender}, "recipient": {"id": "PAGE"}, "timestamp": 0,
                "message": {"mid": f"m{next_message_number()}", "text": text}}

    def text_request(self, server: LiveServer, sender: str, text: str
                     ) -> Tuple[bytes, Dict[str, str]]:
        return self.signed(self.delivery(self.text_event(sender, text)))

    def forgeries(self, server: LiveServer, sender: str, text: str) -> List[Forgery]:
        body = self.delivery(self.text_event(sender, text))
        sha1 = "sha1=" + hmac.new(self.app_secret.encode(), body, hashlib.sha1).hexdigest()
        md5 = "md5=" + hmac.new(self.app_secret.encode(), body, hashlib.md5).hexdigest()
        json_type = {"Content-Type": "application/json"}
        return [("forged", body, self.signed(body, secret="guess")[1]),
                ("sha1-only", body, {**json_type, "X-Hub-Signature": sha1}),
                ("md5-in-256-header", body, {**json_type, "X-Hub-Signature-256": md5}),
                ("unsigned", body, json_type),
                ("tampered-body", self.delivery(self.text_event(sender, text + "!")),
                 self.signed(body)[1])]

    def malformed(self, server: LiveServer) -> List[Tuple[str, bytes, Dict[str, str]]]:
        cases = [("not-json", b"{oops"), ("array", b"[]"), ("entry-string", b'{"entry": "x"}'),
                 ("messaging-string", dumps({"entry": [{"messaging": "x"}]})),
                 ("event-string", dumps({"entry": [{"messaging": ["x"]}]})),
                 ("no-sender", dumps({"entry": [{"messaging": [{"message": {"text": "hi"}}]}]}))]
        return [(label, *self.signed(body)) for label, body in cases]

    def sent(self, server: LiveServer) -> List[Sent]:
        return [Sent(body["message"]["text"],
                     [{"title": reply["title"], "payload": reply["payload"]}
                      for reply in body["message"].get("quick_replies", [])],
                     {"recipient": body["recipient"]["id"]})
                for body in server.platforms.of("graph", "me/messages")]


class Twilio(Platform):
    name, limit, native_buttons, sender = "sms", 1600, False, "+447700900123"
    webhook = "/webhooks/twilio/webhook"
    auth_token = "twilio-auth-token"
    number = "+15005550006"
    whatsapp_number = "whatsapp:+14155238886"
    public_url = "https://clinic.example/webhooks/twilio/webhook"  # TWILIO_WEBHOOK_URL

    def channel(self, base_url: str) -> ClinicTwilioInput:
        return ClinicTwilioInput.from_credentials({
            "account_sid": "AC" + "0" * 32, "auth_token": self.auth_token,
            "twilio_number": self.number, "twilio_whatsapp_number": self.whatsapp_number,
            "webhook_url": self.public_url, "api_url": f"{base_url}/fake/twilio"})

    def signed(self, url: str, params: Dict[str, str], token: Optional[str] = None
               ) -> Tuple[bytes, Dict[str, str]]:
        signature = RequestValidator(token or self.auth_token).compute_signature(url, params)
        return (requests.models.RequestEncodingMixin._encode_params(params).encode(),
                {"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": signature})

    def params(self, sender: str, text: str) -> Dict[str, str]:
        to = self.whatsapp_number if sender.startswith("whatsapp:") else self.number
        return {"From": sender, "To": to, "Body": text,
                "MessageSid": f"SM{next_message_number():032d}",
                "AccountSid": "AC" + "0" * 32, "NumMedia": "0"}

    def signed_url(self, server: LiveServer) -> str:
        """The URL Twilio signs: the public one configured in Twilio (and in the channel)."""
        return self.public_url

    def text_request(self, server: LiveServer, sender: str, text: str
                     ) -> Tuple[bytes, Dict[str, str]]:
        return self.signed(self.signed_url(server), self.params(sender, text))

    def forgeries(self, server: LiveServer, sender: str, text: str) -> List[Forgery]:
        url = self.signed_url(server)
        params = self.params(sender, text)
        body, good = self.signed(url, params)
        tampered = self.signed(url, {**params, "Body": text + "!"})[0]
        return [("forged", body, self.signed(url, params, token="guess")[1]),
                ("other-url", body, self.signed("https://elsewhere.example/hook", params)[1]),
                ("tampered-body", tampered, good),
                ("unsigned", body, {"Content-Type": "application/x-www-form-urlencoded"})]

    def malformed(self, server: LiveServer) -> List[Tuple[str, bytes, Dict[str, str]]]:
        url = self.signed_url(server)
        return [("no-from", *self.signed(url, {"Body": "hi"})),
                ("empty-from", *self.signed(url, {"From": "", "Body": "hi"}))]

    def sent(self, server: LiveServer) -> List[Sent]:
        return [Sent(body["Body"], [], {"to": body["To"], "from": body["From"]})
                for body in server.platforms.of("twilio", "Messages.json")]


class WhatsApp(Twilio):
    name, limit, sender = "whatsapp", 4096, "whatsapp:+447700900123"


PLATFORMS = [Telegram(), Slack(), Messenger(), Twilio(), WhatsApp()]
