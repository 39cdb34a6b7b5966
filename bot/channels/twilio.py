"""Twilio SMS and WhatsApp: POST /webhooks/twilio/webhook (both point here).

Authenticated by ``X-Twilio-Signature`` (Twilio's RequestValidator over the URL Twilio
called plus the form fields). Behind a proxy the URL this server sees differs from the
public one, so set ``webhook_url`` (TWILIO_WEBHOOK_URL) to the URL configured in Twilio.
Neither SMS nor WhatsApp text has buttons: options are numbered and a numbered reply is
mapped to the button's payload. Senders prefixed ``whatsapp:`` are answered on WhatsApp.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional
from urllib.parse import parse_qs

from rasa.core.channels.twilio import TwilioInput
from sanic import Blueprint, response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.config import get_limits
from bot.channels.messaging import BufferedOutput, OnNewMessage, auth_failure, handle_user_text
from bot.channels.rendering import SMS, WHATSAPP, ChannelProfile, Outgoing
from bot.channels.validation import InvalidPayload, guarded, valid_sender, webhook_blueprint

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
WHATSAPP_PREFIX = "whatsapp:"
API_TIMEOUT_SECONDS = 20
# Twilio's client logs every API call's URL, which names the account, at INFO: keep its warnings only.
api_logger = logging.getLogger(f"{__name__}.api")
api_logger.setLevel(logging.WARNING)


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


class ClinicTwilioInput(TwilioInput):
    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "ClinicTwilioInput":
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(credentials.get("account_sid"), credentials.get("auth_token"),
                   credentials.get("twilio_number"),
                   whatsapp_number=credentials.get("twilio_whatsapp_number"),
                   webhook_url=credentials.get("webhook_url"),
                   api_url=credentials.get("api_url"))

    def __init__(self, account_sid: Optional[str], auth_token: Optional[str],
                 twilio_number: Optional[str], whatsapp_number: Optional[str] = None,
                 webhook_url: Optional[str] = None, api_url: Optional[str] = None) -> None:
        super().__init__(account_sid, auth_token, twilio_number, debug_mode=False)
        self.whatsapp_number = whatsapp_number or f"{WHATSAPP_PREFIX}{twilio_number}"
        self.webhook_url = webhook_url  # the public URL Twilio calls (signed by Twilio)
        self.api_url = api_url  # a fake Twilio API in tests
        self._client: Optional[Client] = None

    def _api_client(self) -> Client:
        """One client on Twilio's aiohttp transport, made inside the server's event loop."""
        if self._client is None:
            self._client = Client(self.account_sid, self.auth_token,
                                  http_client=AsyncTwilioHttpClient(timeout=API_TIMEOUT_SECONDS, logger=api_logger))
            if self.api_url:
                self._client.api.base_url = self.api_url
        return self._client

    def get_output_channel(self, collect: bool = False) -> ClinicTwilioOutput:
        return ClinicTwilioOutput(self._api_client(), self.twilio_number,
                                  self.whatsapp_number, collect)

    def signed_url(self, request: Request) -> str:
        if not self.webhook_url:
            return request.url
        query = request.query_string
        return f"{self.webhook_url}?{query}" if query and "?" not in self.webhook_url \
            else self.webhook_url

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        limits = get_limits()
        webhook = webhook_blueprint("clinic_twilio_webhook", __name__)

        @webhook.listener("before_server_stop")
        async def close_client(*_: Any) -> None:
            if self._client is not None:
                await self._client.http_client.close()

        @webhook.route("/webhook", methods=["POST"])
        @guarded(limits.max_body_bytes)
        async def receive(request: Request) -> HTTPResponse:
            signature = request.headers.get(SIGNATURE_HEADER) or ""
            form = twilio_form(request)
            validator = RequestValidator(self.auth_token)
            if not signature or not validator.validate(self.signed_url(request), form, signature):
                return auth_failure(bool(signature))
            sender_id, text = form.get("From"), form.get("Body")
            if not isinstance(sender_id, str) or not sender_id:
                raise InvalidPayload("From is missing")
            sender_id = valid_sender(sender_id, "From")  # a conversation id fits the tracker store
            if isinstance(text, str):  # media-only or location messages have no Body
                await handle_user_text(request, on_new_message,
                                       self.get_output_channel(collect=True),
                                       sender_id=sender_id, text=text,
                                       input_channel=self.name())
            return response.empty()

        return webhook


def twilio_form(request: Request) -> RequestParameters:
    """The posted fields with empty ones kept: Twilio signs them (Sanic's form drops them)."""
    return RequestParameters(
        parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True))
