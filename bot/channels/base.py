"""What every clinic input channel shares: one way to be built from the credentials file, a
blueprint with a health route (GET /), POST /webhook behind the size guard, verify-then-handle,
one rate limiter and one replay guard per channel, the platform API client made once (inside the
server's loop) and closed when the server stops, and one way to run a turn. Limits are read from
the one settings object (clinic/settings.py).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.ratelimit import RateLimiter
from bot.channels.rendering import failure_messages
from bot.channels.replay import ReplayGuard
from bot.channels.validation import error_response, guarded, webhook_blueprint
from clinic.settings import Settings, get_settings

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


async def run_turn(on_new_message: OnNewMessage, message: UserMessage) -> None:
    """Run the dialogue on one message. If it fails, the message's output channel still sends the
    fallback (the advice for any emergency in the message, the emergency line, an apology); a
    collecting output then sends what it holds."""
    output = message.output_channel
    try:
        await on_new_message(message)
    except (asyncio.CancelledError, Exception):
        logger.exception("%s: the dialogue failed on a message; sending the fallback",
                         message.input_channel)
        for reply in failure_messages(message.sender_id, message.text or ""):
            await output.send_response(message.sender_id, reply)
    finally:
        flush = getattr(output, "flush", None)
        if flush is not None:
            await flush()


def auth_failure(credential_present: bool) -> HTTPResponse:
    """401 when the request carries no signature/secret, 403 when it carries a wrong one."""
    if credential_present:
        return error_response(403, "signature or secret does not match")
    return error_response(401, "request is not signed")


class ClinicChannel:
    """Mixed in before the Rasa channel class it extends. A channel implements ``handle`` (and
    ``authenticate`` when its platform signs requests); ``configure`` for credentials Rasa's class
    does not read; ``make_api_client``/``close_api_client`` when it calls a platform API;
    ``add_routes`` for routes besides POST /webhook."""

    name: Callable[[], str]  # the Rasa channel class's
    settings: Settings  # read when the routes are built
    api_url: Optional[str] = None  # the platform's API: a local server, or a fake one in tests
    _api: Any = None
    _limiter: Optional[RateLimiter] = None
    _replays: Optional[ReplayGuard] = None

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> Any:
        """Rasa's class reads its platform's keys (and refuses missing credentials); then
        ``configure`` reads and checks the rest."""
        channel = super().from_credentials(credentials)  # the Rasa class after this one
        channel.configure(credentials or {})
        return channel

    def configure(self, credentials: Mapping[str, Any]) -> None:
        """The credentials Rasa's class does not read: ``api_url`` on every channel."""
        self.api_url = credentials.get("api_url") or self.api_url

    @property
    def limiter(self) -> RateLimiter:
        """Made on first use (reading the settings then), shared by the channel's requests."""
        if self._limiter is None:
            self._limiter = RateLimiter(get_settings(), self.name())
        return self._limiter

    @property
    def replays(self) -> ReplayGuard:
        if self._replays is None:
            self._replays = ReplayGuard(self.name())
        return self._replays

    def authenticate(self, request: Request) -> Optional[HTTPResponse]:
        """None when the request is authentic, else the 401/403 answer."""
        return None

    async def handle(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        raise NotImplementedError

    def add_routes(self, webhook: Blueprint, on_new_message: OnNewMessage) -> None:
        """Routes besides the health route and POST /webhook."""

    async def on_server_start(self) -> None:
        """Called once the server runs (e.g. to register a webhook with the platform)."""

    def make_api_client(self) -> Any:
        return None

    async def close_api_client(self, client: Any) -> None:
        """Release the platform API client's connections."""

    def api_client(self) -> Any:
        """The platform API client: one per channel, made on first use inside the server's loop."""
        if self._api is None:
            self._api = self.make_api_client()
        return self._api

    def make_blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = webhook_blueprint(f"clinic_{self.name()}_webhook", type(self).__module__)

        @webhook.route("/webhook", methods=["POST"])
        @guarded(self.settings.max_body_bytes)
        async def receive(request: Request) -> HTTPResponse:
            failure = self.authenticate(request)
            return failure if failure is not None else await self.handle(request, on_new_message)

        return webhook

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        self.settings = get_settings()
        webhook = self.make_blueprint(on_new_message)
        self.add_routes(webhook, on_new_message)

        @webhook.listener("after_server_start")
        async def started(*_: Any) -> None:
            await self.on_server_start()

        @webhook.listener("before_server_stop")
        async def close_client(*_: Any) -> None:
            client, self._api = self._api, None
            if client is not None:
                await self.close_api_client(client)

        @webhook.listener("after_server_stop")
        async def close_stores(*_: Any) -> None:
            limiter, replays, self._limiter, self._replays = self._limiter, self._replays, None, None
            for store in (limiter, replays):
                if store is not None:
                    await store.close()

        return webhook
