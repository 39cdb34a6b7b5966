"""Facebook Messenger: GET+POST /webhooks/facebook/webhook.

POSTs are authenticated by ``X-Hub-Signature-256: sha256=<HMAC-SHA256(app secret, body)>``
(Rasa's connector checks the older SHA-1 ``X-Hub-Signature``, lets the header choose the
hash function and answers 200 when it fails). The GET subscription handshake needs the
verify token. Buttons become quick replies; replies go out through the Send API. An event whose
message ``mid`` was seen before runs no turn (bot/channels/replay.py).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any, Dict, Iterator, Optional, Tuple

import aiohttp
from rasa.core.channels.facebook import FacebookInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.messaging import BufferedOutput, MessagingChannel, OnNewMessage, auth_failure
from bot.channels.rendering import MESSENGER, Outgoing
from bot.channels.validation import InvalidPayload, error_response, parse_json_object, valid_sender

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
GRAPH_API_URL = "https://graph.facebook.com/v18.0"
API_TIMEOUT = aiohttp.ClientTimeout(total=20)


def signature_matches(app_secret: str, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode())


class ClinicMessengerOutput(BufferedOutput):
    profile = MESSENGER

    @classmethod
    def name(cls) -> str:
        return "facebook"

    def __init__(self, session: aiohttp.ClientSession, page_access_token: str, api_url: str,
                 collect: bool) -> None:
        super().__init__(collect)
        self.session = session
        self.page_access_token = page_access_token
        self.api_url = api_url.rstrip("/")

    async def deliver(self, recipient_id: str, outgoing: Outgoing) -> None:
        message: Dict[str, Any] = {"text": outgoing.text}
        if outgoing.buttons:
            message["quick_replies"] = [
                {"content_type": "text", "title": button["title"], "payload": button["payload"]}
                for button in outgoing.buttons]
        body = {"recipient": {"id": recipient_id}, "messaging_type": "RESPONSE",
                "message": message}
        async with self.session.post(f"{self.api_url}/me/messages", json=body,
                                     params={"access_token": self.page_access_token}) as reply:
            if reply.status >= 400:
                raise RuntimeError(f"Send API answered {reply.status}")


class ClinicFacebookInput(MessagingChannel, FacebookInput):
    api_url = GRAPH_API_URL

    def make_api_client(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=API_TIMEOUT)

    async def close_api_client(self, client: aiohttp.ClientSession) -> None:
        await client.close()

    def get_output_channel(self, collect: bool = False) -> ClinicMessengerOutput:
        return ClinicMessengerOutput(self.api_client(), self.fb_access_token, self.api_url, collect)

    def add_routes(self, webhook: Blueprint, on_new_message: OnNewMessage) -> None:
        @webhook.route("/webhook", methods=["GET"])
        async def subscribe(request: Request) -> HTTPResponse:
            token = request.args.get("hub.verify_token") or ""
            if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
                    token.encode(), self.fb_verify.encode()):
                return response.text(request.args.get("hub.challenge") or "")
            return error_response(403, "verify token does not match")

    def authenticate(self, request: Request) -> Optional[HTTPResponse]:
        signature = request.headers.get(SIGNATURE_HEADER) or ""
        if not signature_matches(self.fb_secret, request.body, signature):
            return auth_failure(bool(signature))
        return None

    async def handle(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        events = list(messaging_events(parse_json_object(request.body)))
        for sender_id, text, message_id in events:  # each event is its own turn
            if await self.replays.first_time(message_id):
                await self.handle_user_text(request, on_new_message,
                                            self.get_output_channel(collect=True),
                                            sender_id=sender_id, text=text)
        return response.text("EVENT_RECEIVED")


def messaging_events(payload: Dict[str, Any]) -> Iterator[Tuple[str, str, Optional[str]]]:
    """(sender id, text, message id) of every user message, quick reply and postback in a
    delivery (the mid, None when the event has none)."""
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise InvalidPayload("entry must be a list")
    for entry in entries:
        events = entry.get("messaging", []) if isinstance(entry, dict) else None
        if not isinstance(events, list):
            raise InvalidPayload("entry.messaging must be a list")
        for event in events:
            if not isinstance(event, dict):
                raise InvalidPayload("a messaging event must be an object")
            text = _event_text(event)
            sender = event.get("sender")
            sender_id = sender.get("id") if isinstance(sender, dict) else None
            if text is None:
                continue  # echoes, attachments, deliveries, reads
            if not isinstance(sender_id, str) or not sender_id:
                raise InvalidPayload("a messaging event has no sender id")
            yield valid_sender(sender_id, "sender id"), text, _message_id(event)


def _message_id(event: Dict[str, Any]) -> Optional[str]:
    for part in (event.get("message"), event.get("postback")):
        mid = part.get("mid") if isinstance(part, dict) else None
        if isinstance(mid, str) and mid:
            return mid
    return None


def _event_text(event: Dict[str, Any]) -> Optional[str]:
    message, postback = event.get("message"), event.get("postback")
    if isinstance(message, dict) and not message.get("is_echo"):
        quick_reply = message.get("quick_reply")
        if isinstance(quick_reply, dict) and isinstance(quick_reply.get("payload"), str):
            return quick_reply["payload"]
        return message["text"] if isinstance(message.get("text"), str) else None
    if isinstance(postback, dict) and isinstance(postback.get("payload"), str):
        return postback["payload"]
    return None
