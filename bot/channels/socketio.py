"""Socket.IO channel for the website widget (path /socket.io).

``session_request`` {"session_id"?, "token"?} binds the socket to a conversation: with neither,
a new one whose id the server makes; with a token, the conversation it was issued for
(bot/channels/web_conversations.py). ``session_confirm`` {"session_id", "token"} answers it, a
``session_refused`` {"error", "status"} event an id without its token, or a wrong token.
``user_uttered`` {"message", "session_id"} must name the socket's conversation.

Each bot response is ONE ``bot_uttered`` event {"text"?, "buttons"?: [{"title",
"payload"}], "custom"?, "image"?}; bad events are answered with an ``input_error`` event
{"error"} and never reach the dialogue. Messages are sent as the bot utters them, and
the bot utters escalations first: a late one is logged as a warning.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint
from socketio import AsyncServer

from bot.channels.base import ClinicChannel, OnNewMessage, run_turn
from bot.channels.rendering import RATE_LIMITED_TEXT, is_escalation, merge_response, notice_messages
from bot.channels.validation import (
    InvalidPayload,
    client_ip,
    valid_message,
    valid_metadata,
    valid_web_sender,
)
from bot.channels.web_conversations import Refused, WebConversations

logger = logging.getLogger(__name__)

INPUT_ERROR_EVENT = "input_error"
SESSION_REFUSED_EVENT = "session_refused"


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


class ClinicSocketIOInput(ClinicChannel, SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def get_output_channel(self) -> Optional[SocketIOOutput]:
        if self.sio is None:
            return super().get_output_channel()
        return ClinicSocketIOOutput(self.sio, self.bot_message_evt)

    def make_blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = SocketIOInput.blueprint(self, on_new_message)  # Rasa's socket.io server
        sio, namespace = self.sio, self.namespace
        conversations = WebConversations(self.name())
        sio.eio.max_http_buffer_size = self.settings.max_body_bytes
        # Rasa builds the server with cors_allowed_origins=[], which turns Origin checks off.
        if self.settings.allowed_socket_origins:
            sio.eio.cors_allowed_origins = list(self.settings.allowed_socket_origins)

        # Registering the same events again replaces Rasa's handlers for them.
        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: Any = None, *_: Any) -> None:
            """Binds this socket to a conversation: a new one, or the one its token is for."""
            request = data if isinstance(data, dict) else {}
            try:
                conversation = conversations.start_or_resume(request.get("token"),
                                                             request.get("session_id"))
            except Refused as refusal:
                await sio.emit(SESSION_REFUSED_EVENT, {"error": str(refusal),
                                                       "status": refusal.status},
                               room=sid, namespace=namespace)
                return
            previous = await self._conversation_of(sid)
            if previous and previous != conversation.id:
                sio.leave_room(sid, previous, namespace=namespace)
            await sio.save_session(sid, {"conversation": conversation.id}, namespace=namespace)
            if self.session_persistence:
                sio.enter_room(sid, conversation.id, namespace=namespace)
            await sio.emit("session_confirm", {"session_id": conversation.id,
                                               "token": conversation.token},
                           room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: str, data: Any = None, *_: Any) -> None:
            # An event with no argument or several must not raise: the patient gets input_error.
            try:
                if not isinstance(data, dict):
                    raise InvalidPayload("the message event must carry a JSON object")
                sender_id = sid
                if self.session_persistence:
                    sender_id = await self._bound_conversation(sid, data.get("session_id"))
                text = valid_message(data.get("message"), self.settings.max_message_chars)
                metadata = valid_metadata(data.get(self.metadata_key))
            except InvalidPayload as error:
                await sio.emit(INPUT_ERROR_EVENT, {"error": str(error)}, room=sid,
                               namespace=namespace)
                return

            output = ClinicSocketIOOutput(sio, self.bot_message_evt)
            if not await self.limiter.allow(sender_id, self._client_ip(sid)):
                await output.send_notice(sender_id, RATE_LIMITED_TEXT)
                return
            await run_turn(on_new_message, UserMessage(text, output, sender_id,
                                                       input_channel=self.name(),
                                                       metadata=metadata))

        return webhook

    async def _conversation_of(self, sid: str) -> Optional[str]:
        session = await self.sio.get_session(sid, namespace=self.namespace)
        return session.get("conversation") if isinstance(session, dict) else None

    async def _bound_conversation(self, sid: str, claimed: Any) -> str:
        """The conversation this socket's session_request was granted; a message naming another
        is refused (a known id alone reaches nothing)."""
        claimed = valid_web_sender(claimed, "session_id")
        bound = await self._conversation_of(sid)
        if bound is None:
            raise InvalidPayload("start a conversation first (session_request)")
        if claimed != bound:
            logger.warning("socketio: a message for another conversation than its socket's "
                           "was refused")
            raise InvalidPayload("session_id is not this connection's conversation")
        return bound

    def _client_ip(self, sid: str) -> str:
        environ = self.sio.get_environ(sid, namespace=self.namespace) or {}
        request = environ.get("sanic.request")
        return client_ip(request) if request is not None else ""
