"""REST channel: POST /webhooks/rest/webhook {"message", "token"?, "sender"?, "metadata"?}.

A request without a token starts a new conversation, its id made by the server; the answer's
``X-Conversation-Id`` and ``X-Conversation-Token`` headers carry the id and the token that
continues it (renewed with every answer: send the latest). A "sender" without its token is
refused (401), a token that is forged, lapsed or for another sender too (403); see
bot/channels/web_conversations.py. Server-to-server clients holding CLINIC_REST_SERVICE_KEY
(``Authorization: Bearer <key>``) may name the conversation with "sender" instead.

Answers with a JSON list of bot messages, one per bot response
({"recipient_id", "text"?, "buttons"?, "custom"?, "image"?}), escalations first.
"""
from __future__ import annotations

import logging
from typing import Any, Dict

import rasa.utils.endpoints
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.base import ClinicChannel, OnNewMessage, run_turn
from bot.channels.rendering import RATE_LIMITED_TEXT, escalations_first, merge_response, notice_messages
from bot.channels.validation import (
    InvalidPayload,
    client_ip,
    error_response,
    parse_json_object,
    valid_message,
    valid_metadata,
    valid_web_sender,
)
from bot.channels.web_conversations import Conversation, Refused, WebConversations

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "60"
ID_HEADER = "X-Conversation-Id"
TOKEN_HEADER = "X-Conversation-Token"


class MergingCollector(CollectingOutputChannel):
    """Collects each bot response as ONE message (Rasa's sends custom separately)."""

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        await self._persist_message(merge_response(recipient_id, message))


class ClinicRestInput(ClinicChannel, RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: OnNewMessage) -> Any:
        self.conversations = WebConversations(self.name())
        return super().blueprint(on_new_message)

    def conversation(self, request: Request, payload: Dict[str, Any]) -> Conversation:
        sender = payload.get("sender")
        if sender is not None:
            sender = valid_web_sender(sender)
        if self.conversations.service_client(request.headers.get("Authorization")):
            if sender is None:
                raise InvalidPayload("a service client names the conversation: send a sender")
            return Conversation(sender, self.conversations.token_for(sender))
        return self.conversations.start_or_resume(payload.get("token"), sender)

    async def handle(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
            raise InvalidPayload("streamed responses are not offered; drop ?stream")
        payload = parse_json_object(request.body)
        text = valid_message(payload.get("message"), self.settings.max_message_chars)
        metadata = valid_metadata(payload.get("metadata"))
        try:
            conversation = self.conversation(request, payload)
        except Refused as refusal:
            return error_response(refusal.status, str(refusal))
        # Any client-supplied "input_channel" is ignored: this channel names itself.
        sender_id = conversation.id
        headers = {ID_HEADER: sender_id, TOKEN_HEADER: conversation.token}

        if not await self.limiter.allow(sender_id, client_ip(request)):
            return response.json(notice_messages(sender_id, RATE_LIMITED_TEXT), status=429,
                                 headers={**headers, "Retry-After": RETRY_AFTER_SECONDS})

        collector = MergingCollector()
        await run_turn(on_new_message, UserMessage(text, collector, sender_id,
                                                   input_channel=self.name(), metadata=metadata))
        return response.json(escalations_first(collector.messages), headers=headers)
