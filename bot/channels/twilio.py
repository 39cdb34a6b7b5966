"""Twilio SMS and WhatsApp: POST /webhooks/twilio/webhook (both point here).

Authenticated by ``X-Twilio-Signature`` (Twilio's RequestValidator over the URL Twilio
called plus the form fields). That URL is ``webhook_url`` (TWILIO_WEBHOOK_URL, the URL
configured in Twilio): the channel refuses to start without it, and never rebuilds the URL
from the request (its Host and X-Forwarded-Host are the client's to choose). A message whose
``MessageSid`` was seen before runs no turn (bot/channels/replay.py).
Neither SMS nor WhatsApp text has buttons: options are numbered and a numbered reply is
mapped to the button's payload. Senders prefixed ``whatsapp:`` are answered on WhatsApp.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Optional
from urllib.parse import parse_qs, urlsplit

from rasa.core.channels.twilio import TwilioInput
from rasa.shared.exceptions import InvalidConfigException
from sanic import response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.messaging import BufferedOutput, MessagingChannel, OnNewMessage, auth_failure
from bot.channels.rendering import SMS, WHATSAPP, ChannelProfile, Outgoing
from bot.channels.validation import InvalidPayload, valid_sender

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
WHATSAPP_PREFIX = "whatsapp:"
API_TIMEOUT_SECONDS = 20
# Twilio's client logs every API call's URL, which names the account, at INFO: keep its warnings only.
api_logger = logging.getLogger(f"{__name__}.api")
api_logger.setLevel(logging.WARNING)


def twilio_api_client(account_sid: Optional[str], auth_token: Optional[str],
                      api_url: Optional[str] = None) -> Client:
    """Twilio's client on its aiohttp transport (make it inside the running event loop);
    `api_url`: a fake Twilio API in tests."""
    client = Client(account_sid, auth_token,
                    http_client=AsyncTwilioHttpClient(timeout=API_TIMEOUT_SECONDS, logger=api_logger))
    if api_url:
        client.api.base_url = api_url
    return client


class ClinicTwilioOutput(BufferedOutput):
    @classmethod
    def name(cls) -> str:
        return "twilio"

    def __init__(self, client: Client, sms_number: str, whatsapp_number: str,
                 collect: bool) -> None:
        super().__init__(collect)
        self.client = client
        self.sms_number = sms_number
        self.whatsapp_number = whatsapp_number

    def profile_for(self, recipient_id: str) -> ChannelProfile:
        return WHATSAPP if recipient_id.startswith(WHATSAPP_PREFIX) else SMS

    async def deliver(self, recipient_id: str, outgoing: Outgoing) -> None:
        sender = (self.whatsapp_number if recipient_id.startswith(WHATSAPP_PREFIX)
                  else self.sms_number)
        await self.client.messages.create_async(to=recipient_id, from_=sender,
                                                body=outgoing.text)


class ClinicTwilioInput(MessagingChannel, TwilioInput):
    def configure(self, credentials: Mapping[str, Any]) -> None:
        super().configure(credentials)
        webhook_url = credentials.get("webhook_url")
        if not isinstance(webhook_url, str) or not urlsplit(webhook_url).scheme.startswith("http") \
                or not urlsplit(webhook_url).netloc:
            # The URL the server sees comes from the request (Host, X-Forwarded-Host): a client
            # would choose what the signature is checked against.
            raise InvalidConfigException(
                "twilio: webhook_url (TWILIO_WEBHOOK_URL) must be set to the public https URL "
                "configured in Twilio for this webhook")
        self.whatsapp_number = credentials.get("twilio_whatsapp_number") or \
            f"{WHATSAPP_PREFIX}{self.twilio_number}"
        self.webhook_url = webhook_url  # the public URL Twilio calls (signed by Twilio)

    def make_api_client(self) -> Client:
        """On Twilio's aiohttp transport, made inside the server's event loop."""
        return twilio_api_client(self.account_sid, self.auth_token, self.api_url)

    async def close_api_client(self, client: Client) -> None:
        await client.http_client.close()

    def get_output_channel(self, collect: bool = False) -> ClinicTwilioOutput:
        return ClinicTwilioOutput(self.api_client(), self.twilio_number,
                                  self.whatsapp_number, collect)

    def signed_url(self, request: Request) -> str:
        """The configured public URL (never one rebuilt from the request's headers)."""
        query = request.query_string
        return f"{self.webhook_url}?{query}" if query and "?" not in self.webhook_url \
            else self.webhook_url

    def authenticate(self, request: Request) -> Optional[HTTPResponse]:
        signature = request.headers.get(SIGNATURE_HEADER) or ""
        validator = RequestValidator(self.auth_token)
        if not signature or not validator.validate(self.signed_url(request), twilio_form(request),
                                                   signature):
            return auth_failure(bool(signature))
        return None

    async def handle(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        form = twilio_form(request)
        sender_id, text = form.get("From"), form.get("Body")
        if not isinstance(sender_id, str) or not sender_id:
            raise InvalidPayload("From is missing")
        sender_id = valid_sender(sender_id, "From")  # a conversation id fits the tracker store
        if not await self.replays.first_time(form.get("MessageSid") or form.get("SmsMessageSid")):
            return response.empty()
        if isinstance(text, str):  # media-only or location messages have no Body
            await self.handle_user_text(request, on_new_message,
                                        self.get_output_channel(collect=True),
                                        sender_id=sender_id, text=text)
        return response.empty()


def twilio_form(request: Request) -> RequestParameters:
    """The posted fields with empty ones kept: Twilio signs them (Sanic's form drops them)."""
    return RequestParameters(
        parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True))
