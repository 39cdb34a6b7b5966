"""Who may continue a web conversation (the widget's socket.io and REST).

A web conversation's id names it in the tracker store; knowing the id is not enough to continue
it. The server makes every new conversation's id and hands the client a token signed with the
clinic's secret (CLINIC_SECRET_KEY) carrying the id and when it was issued; the token lapses
CLINIC_WEB_CONVERSATION_HOURS later. Continuing a conversation needs its token; an id with no token,
a token for another id, a forged or lapsed token are refused and logged without the id.
"""
from __future__ import annotations

import hmac
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from itsdangerous import BadSignature, URLSafeTimedSerializer

from clinic.settings import get_settings, with_secret_key

logger = logging.getLogger(__name__)

TOKEN_SALT = "clinic.web-conversation"
MAX_TOKEN_CHARS = 512


class Refused(Exception):
    """A client asked for a conversation it did not prove it may continue (401 or 403)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Conversation:
    id: str
    token: str


class WebConversations:
    def __init__(self, channel: str) -> None:
        settings = with_secret_key(get_settings())
        self.channel = channel
        self.max_age_seconds = settings.web_conversation_hours * 3600
        self._serializer = URLSafeTimedSerializer(settings.secret_key, salt=TOKEN_SALT)
        self._service_key = settings.rest_service_key

    def new(self) -> Conversation:
        """A new conversation, its id made here (never by the client)."""
        conversation_id = uuid.uuid4().hex
        return Conversation(conversation_id, self.token_for(conversation_id))

    def token_for(self, conversation_id: str) -> str:
        return self._serializer.dumps(conversation_id)

    def resume(self, token: Any, claimed_id: Any = None) -> Conversation:
        """The conversation the token was issued for, with a fresh token. ``claimed_id``: the id
        the client also sent, if any; it must be the token's."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise self._refused(401 if token in (None, "") else 403, "no valid conversation token")
        try:
            conversation_id = self._serializer.loads(token, max_age=self.max_age_seconds)
        except BadSignature:  # forged, altered or lapsed (SignatureExpired is a BadSignature)
            raise self._refused(403, "the conversation token is not valid or has lapsed") from None
        if claimed_id is not None and claimed_id != conversation_id:
            raise self._refused(403, "the conversation token is for another conversation")
        return Conversation(conversation_id, self.token_for(conversation_id))

    def start_or_resume(self, token: Any, claimed_id: Any) -> Conversation:
        """No token and no id: a new conversation. A token: that conversation. An id alone: refused
        (ids the client invents, or learnt, continue nothing)."""
        if token is None and claimed_id is None:
            return self.new()
        if token is None:
            raise self._refused(401, "continuing a conversation needs its token; "
                                     "send no id to start a new one")
        return self.resume(token, claimed_id)

    def service_client(self, authorization: Optional[str]) -> bool:
        """Whether a REST request comes from a server-to-server client holding the service key
        (it may name the conversation). A wrong key is refused."""
        presented = (authorization or "").removeprefix("Bearer ").strip()
        if not presented:
            return False
        if self._service_key and hmac.compare_digest(presented.encode(), self._service_key.encode()):
            return True
        raise self._refused(403, "the service key does not match")

    def _refused(self, status: int, reason: str) -> Refused:
        logger.warning("%s: a request for a conversation was refused (%s)", self.channel, reason)
        return Refused(status, reason)
