"""What the messaging channels (Telegram, Slack, Messenger, Twilio) share.

A turn's bot messages are collected by a ``BufferedOutput`` and sent when the dialogue is
done, rendered for the platform with escalations first. Outside a turn (Rasa's API
sending to ``output_channel=latest``) each message is sent at once.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Sanic
from sanic.request import Request

from bot.channels.base import ClinicChannel, OnNewMessage, auth_failure, run_turn
from bot.channels.rendering import (
    RATE_LIMITED_TEXT,
    ChannelProfile,
    Message,
    Outgoing,
    merge_response,
    normalize_buttons,
    notice_messages,
    numbered_choice,
    render,
)
from bot.channels.validation import clean_text

logger = logging.getLogger(__name__)

__all__ = ["BufferedOutput", "MessagingChannel", "OnNewMessage", "auth_failure", "conversation_id"]


class BufferedOutput(OutputChannel):
    profile: ChannelProfile

    def __init__(self, collect: bool) -> None:
        self._collect = collect
        self._pending: List[Message] = []

    def profile_for(self, recipient_id: str) -> ChannelProfile:
        return self.profile

    def platform_id(self, conversation_id: str) -> str:
        """The platform's id of the chat (see conversation_id)."""
        return conversation_id.removeprefix(f"{self.name()}:")

    async def deliver(self, recipient_id: str, outgoing: Outgoing) -> None:
        """Send one rendered message through the platform's API."""
        raise NotImplementedError

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        self._pending.append(merge_response(recipient_id, message))
        if not self._collect:
            await self.flush()

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def send_notice(self, recipient_id: str, notice: str) -> None:
        for message in notice_messages(recipient_id, notice):
            await self.send_response(recipient_id, message)

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        recipient_id = self.platform_id(pending[0]["recipient_id"])  # one turn, one conversation
        for outgoing in render(pending, self.profile_for(recipient_id)):
            try:
                await self.deliver(recipient_id, outgoing)
            except Exception as error:  # keep sending the rest of the batch
                logger.error("%s: a message could not be delivered (%s)",
                             self.name(), type(error).__name__)
                logger.debug("delivery failure", exc_info=True)


def conversation_id(channel: str, platform_id: str) -> str:
    """A messaging conversation's id in the tracker store. Platform ids are no secret (a phone
    number, a chat id), so they are prefixed with the channel, which no web client's id can be
    (validation.valid_web_sender): a signed webhook is the only way into the conversation."""
    return f"{channel}:{platform_id}"


class MessagingChannel(ClinicChannel):
    """Telegram, Slack, Messenger and Twilio: signed webhooks, platform message ids checked
    against replays, each sender rate limited (the platforms' servers share a few addresses, so
    only per sender), numbered replies mapped to the offered buttons."""

    async def handle_user_text(self, request: Request, on_new_message: OnNewMessage,
                               output: BufferedOutput, *, sender_id: str, text: str,
                               metadata: Optional[Dict[str, Any]] = None) -> None:
        """`sender_id` is the platform's id of the chat."""
        sender_id = conversation_id(self.name(), sender_id)
        if not await self.limiter.allow(sender_id, ""):
            logger.warning("%s: a sender is over the rate limit; message dropped", self.name())
            if await self.limiter.notice_due(sender_id):
                await output.send_notice(sender_id, RATE_LIMITED_TEXT)
                await output.flush()
            return
        text = await resolve_numbered_reply(request.app, sender_id, clean_text(text))
        message = UserMessage(text, output, sender_id, input_channel=self.name(),
                              metadata=metadata)
        await run_turn(on_new_message, message)


async def resolve_numbered_reply(app: Sanic, sender_id: str, text: str) -> str:
    """ "2" becomes the payload of the 2nd button the bot last offered this sender."""
    choice = numbered_choice(text)
    if choice is None:
        return text
    buttons = await last_offered_buttons(app, sender_id)
    return buttons[choice - 1]["payload"] if 1 <= choice <= len(buttons) else text


async def last_offered_buttons(app: Sanic, sender_id: str) -> List[Dict[str, str]]:
    """Buttons of the bot's last message since the user last spoke, from the tracker store
    (shared by every replica)."""
    tracker_store = getattr(getattr(app.ctx, "agent", None), "tracker_store", None)
    if tracker_store is None:
        return []
    try:
        tracker = await tracker_store.retrieve(sender_id)
    except Exception as error:
        logger.warning("Could not read the conversation for a numbered reply (%s)",
                       type(error).__name__)
        return []
    for event in reversed(tracker.events if tracker else []):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            buttons = normalize_buttons(
                event.data.get("buttons") or event.data.get("quick_replies"))
            if buttons:
                return buttons
    return []
