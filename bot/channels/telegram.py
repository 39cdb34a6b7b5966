"""Telegram: POST /webhooks/telegram/webhook.

Authenticated by the ``X-Telegram-Bot-Api-Secret-Token`` header, which Telegram sends
with the ``secret_token`` this channel passes to setWebhook when the server starts.
Buttons become an inline keyboard (one button per row); taps come back as the payload.
An update whose ``update_id`` was seen before runs no turn (bot/channels/replay.py).
"""
from __future__ import annotations

import hmac
import logging
import re
from typing import Any, Dict, Mapping, Optional, Tuple

from aiogram import Bot
from aiogram.bot.api import TELEGRAM_PRODUCTION, TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from rasa.core.channels.telegram import TelegramInput
from rasa.shared.exceptions import InvalidConfigException
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.messaging import BufferedOutput, MessagingChannel, OnNewMessage, auth_failure
from bot.channels.rendering import TELEGRAM, Outgoing
from bot.channels.validation import InvalidPayload, parse_json_object, valid_sender

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
API_TIMEOUT_SECONDS = 20
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_\-]{1,256}")  # what Telegram accepts


class ClinicTelegramOutput(BufferedOutput):
    profile = TELEGRAM

    @classmethod
    def name(cls) -> str:
        return "telegram"

    def __init__(self, bot: Bot, collect: bool) -> None:
        super().__init__(collect)
        self.bot = bot

    async def deliver(self, recipient_id: str, outgoing: Outgoing) -> None:
        keyboard = None
        if outgoing.buttons:
            keyboard = InlineKeyboardMarkup(inline_keyboard=[
                [InlineKeyboardButton(button["title"], callback_data=button["payload"])]
                for button in outgoing.buttons])
        await self.bot.send_message(recipient_id, outgoing.text, reply_markup=keyboard)


class ClinicTelegramInput(MessagingChannel, TelegramInput):
    def configure(self, credentials: Mapping[str, Any]) -> None:
        super().configure(credentials)
        secret_token = credentials.get("secret_token")
        if not isinstance(secret_token, str) or not _SECRET_TOKEN.fullmatch(secret_token):
            raise InvalidConfigException(
                "telegram: secret_token (TELEGRAM_SECRET_TOKEN) must be 1-256 characters "
                "of A-Z a-z 0-9 _ -")
        self.secret_token = secret_token

    def make_api_client(self) -> Bot:
        server = (TelegramAPIServer.from_base(self.api_url) if self.api_url
                  else TELEGRAM_PRODUCTION)
        return Bot(self.access_token, server=server, timeout=API_TIMEOUT_SECONDS)

    async def close_api_client(self, client: Bot) -> None:
        await client.session.close()

    def get_output_channel(self, collect: bool = False) -> ClinicTelegramOutput:
        # Unlike Rasa's, no network call here: the webhook is set when the server starts.
        return ClinicTelegramOutput(self.api_client(), collect)

    async def register_webhook(self) -> None:
        # aiogram 2.15's set_webhook predates secret_token, so the raw API method is used.
        await self.api_client().request(
            "setWebhook", {"url": self.webhook_url, "secret_token": self.secret_token})

    async def on_server_start(self) -> None:
        try:
            await self.register_webhook()
            logger.info("telegram: webhook registered with its secret token")
        except Exception as error:
            logger.error("telegram: could not register the webhook (%s)", type(error).__name__)

    def authenticate(self, request: Request) -> Optional[HTTPResponse]:
        received = request.headers.get(SECRET_HEADER) or ""
        if not hmac.compare_digest(received.encode(), self.secret_token.encode()):
            return auth_failure(bool(received))
        return None

    async def handle(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        update = parse_json_object(request.body)
        incoming = parse_update(update)
        if incoming is None:
            return response.json({"status": "ignored"})
        if not await self.replays.first_time(_update_id(update)):
            return response.json({"status": "ok"})
        chat_id, text, callback_id = incoming
        if callback_id:
            await self._acknowledge_button(callback_id)
        await self.handle_user_text(request, on_new_message, self.get_output_channel(collect=True),
                                    sender_id=chat_id, text=text)
        return response.json({"status": "ok"})

    async def _acknowledge_button(self, callback_id: str) -> None:
        """Stops the tapped button's spinner; failing that is harmless."""
        try:
            await self.api_client().answer_callback_query(callback_id)
        except Exception as error:
            logger.warning("telegram: could not acknowledge a button (%s)", type(error).__name__)


def _update_id(update: Dict[str, Any]) -> Optional[str]:
    update_id = update.get("update_id")
    return str(update_id) if isinstance(update_id, int) and not isinstance(update_id, bool) else None


def parse_update(update: Dict[str, Any]) -> Optional[Tuple[str, str, Optional[str]]]:
    """(chat id, text, callback query id) of a text message or button tap; None otherwise."""
    callback = update.get("callback_query")
    if callback is not None:
        if not isinstance(callback, dict):
            raise InvalidPayload("callback_query must be an object")
        data = callback.get("data")
        if not isinstance(data, str):
            return None
        return _chat_id(callback.get("message")), data, str(callback.get("id") or "") or None
    message = update.get("message") or update.get("edited_message")
    if message is None:
        return None  # other update kinds
    if not isinstance(message, dict):
        raise InvalidPayload("message must be an object")
    if not isinstance(message.get("text"), str):
        return None  # photos, stickers, ...
    return _chat_id(message), message["text"], None


def _chat_id(message: Any) -> str:
    chat = message.get("chat") if isinstance(message, dict) else None
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        raise InvalidPayload("the update has no chat id")
    return valid_sender(str(chat_id), "chat id")  # a conversation id fits the tracker store
