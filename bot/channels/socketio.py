"""Socket.IO channel for the website widget (path /socket.io).

Each bot response is ONE ``bot_uttered`` event {"text"?, "buttons"?: [{"title",
"payload"}], "custom"?, "image"?}; bad events are answered with an ``input_error`` event
{"error"} and never reach the dialogue. Messages are sent as the bot utters them, and
the bot utters escalations first: a late one is logged as a warning.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint
from socketio import AsyncServer

from bot.channels.config import get_limits
from bot.channels.ratelimit import RateLimiter
from bot.channels.rendering import (
    RATE_LIMITED_TEXT,
    failure_messages,
    is_escalation,
    merge_response,
    notice_messages,
)
from bot.channels.validation import (
    InvalidPayload,
    client_ip,
    valid_message,
    valid_metadata,
    valid_web_sender,
)

logger = logging.getLogger(__name__)

INPUT_ERROR_EVENT = "input_error"


class ClinicSocketIOOutput(SocketIOOutput):
    def __init__(self, sio: AsyncServer, bot_message_evt: str) -> None:
        super().__init__(sio, bot_message_evt)
        self._sent_this_turn = 0

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        merged = merge_response(recipient_id, message)
        del merged["recipient_id"]
        if is_escalation(merged) and self._sent_this_turn:
            logger.warning("socketio: an escalation came after other messages of its turn")
        self._sent_this_turn += 1
        await self._send_message(recipient_id, merged)

    async def send_notice(self, recipient_id: str, notice: str) -> None:
        for message in notice_messages(recipient_id, notice):
            await self.send_response(recipient_id, message)


class ClinicSocketIOInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def get_output_channel(self) -> Optional[SocketIOOutput]:
        if self.sio is None:
            return super().get_output_channel()
        return ClinicSocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        sio = self.sio
        limits = get_limits()
        limiter = RateLimiter(limits, self.name())
        sio.eio.max_http_buffer_size = limits.max_body_bytes
        # Rasa builds the server with cors_allowed_origins=[], which turns Origin checks off.
        if limits.socket_origins:
            sio.eio.cors_allowed_origins = list(limits.socket_origins)

        # Registering the same events again replaces Rasa's handlers for them.
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None, *_: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            try:
                session_id = valid_web_sender(requested, "session_id")
            except InvalidPayload:
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any = None, *_: Any) -> None:
            # An event with no argument or several must not raise: the patient gets input_error.
            try:
                if not isinstance(data, dict):
                    raise InvalidPayload("the message event must carry a JSON object")
                sender_id = sid
                if self.session_persistence:
                    sender_id = valid_web_sender(data.get("session_id"), "session_id")
                    # Replies go to the session's room: make sure this socket is in it.
                    sio.enter_room(sid, sender_id, namespace=self.namespace)
                text = valid_message(data.get("message"), limits.max_message_chars)
                metadata = valid_metadata(data.get(self.metadata_key))
            except InvalidPayload as error:
                await sio.emit(INPUT_ERROR_EVENT, {"error": str(error)}, room=sid,
                               namespace=self.namespace)
                return

            output = ClinicSocketIOOutput(sio, self.bot_message_evt)
            if not await limiter.allow(sender_id, self._client_ip(sid)):
                await output.send_notice(sender_id, RATE_LIMITED_TEXT)
                return
            message = UserMessage(text, output, sender_id, input_channel=self.name(),
                                  metadata=metadata)
            try:
                await on_new_message(message)
            except Exception:
                logger.exception("socketio: the dialogue failed on a message; sent the fallback")
                for reply in failure_messages(sender_id, text):
                    await output.send_response(sender_id, reply)

        @webhook.listener("after_server_stop")
        async def close_limiter(*_: Any) -> None:
            await limiter.close()

        return webhook

    def _client_ip(self, sid: str) -> str:
        environ = self.sio.get_environ(sid, namespace=self.namespace) or {}
        request = environ.get("sanic.request")
        return client_ip(request) if request is not None else ""
