"""REST channel: POST /webhooks/rest/webhook {"sender", "message", "metadata"?}.

Answers with a JSON list of bot messages, one per bot response
({"recipient_id", "text"?, "buttons"?, "custom"?, "image"?}), escalations first.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict

import rasa.utils.endpoints
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.config import get_limits
from bot.channels.ratelimit import RateLimiter
from bot.channels.rendering import (
    RATE_LIMITED_TEXT,
    escalations_first,
    failure_messages,
    merge_response,
    notice_messages,
)
from bot.channels.validation import (
    InvalidPayload,
    client_ip,
    guarded,
    parse_json_object,
    valid_message,
    valid_metadata,
    valid_web_sender,
    webhook_blueprint,
)

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "60"


class MergingCollector(CollectingOutputChannel):
    """Collects each bot response as ONE message (Rasa's sends custom separately)."""

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        await self._persist_message(merge_response(recipient_id, message))


class ClinicRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        limits = get_limits()
        limiter = RateLimiter(limits, self.name())
        webhook = webhook_blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/webhook", methods=["POST"])
        @guarded(limits.max_body_bytes)
        async def receive(request: Request) -> HTTPResponse:
            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                raise InvalidPayload("streamed responses are not offered; drop ?stream")
            payload = parse_json_object(request.body)
            sender_id = valid_web_sender(payload.get("sender"))
            text = valid_message(payload.get("message"), limits.max_message_chars)
            metadata = valid_metadata(payload.get("metadata"))
            # Any client-supplied "input_channel" is ignored: this channel names itself.

            if not await limiter.allow(sender_id, client_ip(request)):
                return response.json(notice_messages(sender_id, RATE_LIMITED_TEXT),
                                     status=429, headers={"Retry-After": RETRY_AFTER_SECONDS})

            collector = MergingCollector()
            message = UserMessage(text, collector, sender_id, input_channel=self.name(),
                                  metadata=metadata)
            try:
                await on_new_message(message)
            except (asyncio.CancelledError, Exception):
                logger.exception("rest: the dialogue failed on a message; sent the fallback")
                collector.messages.extend(failure_messages(sender_id, text))
            return response.json(escalations_first(collector.messages))

        @webhook.listener("after_server_stop")
        async def close_limiter(*_: Any) -> None:
            await limiter.close()

        return webhook
