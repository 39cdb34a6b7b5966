"""Slack: POST /webhooks/slack/webhook (Events API and interactivity).

Authenticated by the signing secret: ``X-Slack-Signature`` is the v0 HMAC-SHA256 of
``v0:{X-Slack-Request-Timestamp}:{body}``, and the timestamp must be within 5 minutes
(Rasa's check, reused). Slack wants an answer within 3 s, so the turn runs in the
background; buttons become a Block Kit actions block. An event whose ``event_id`` (or an
interaction whose ``trigger_id``) was seen before runs no turn (bot/channels/replay.py).
"""
from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any, Dict, Optional

from rasa.core.channels.slack import SlackInput
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.messaging import BufferedOutput, MessagingChannel, OnNewMessage, auth_failure
from bot.channels.rendering import SLACK, Outgoing
from bot.channels.validation import InvalidPayload, parse_json_object, valid_sender


def _object(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


class ClinicSlackOutput(BufferedOutput):
    profile = SLACK

    @classmethod
    def name(cls) -> str:
        return "slack"

    def __init__(self, client: AsyncWebClient, slack_channel: Optional[str],
                 thread_id: Optional[str], collect: bool) -> None:
        super().__init__(collect)
        self.client = client
        self.slack_channel = slack_channel
        self.thread_id = thread_id

    async def deliver(self, recipient_id: str, outgoing: Outgoing) -> None:
        blocks: list = [{"type": "section", "text": {"type": "plain_text", "text": outgoing.text}}]
        if outgoing.buttons:
            blocks.append({"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": button["title"]},
                 "value": button["payload"]}
                for button in outgoing.buttons]})
        thread = {"thread_ts": self.thread_id} if self.thread_id else {}
        await self.client.chat_postMessage(channel=self.slack_channel or recipient_id,
                                           text=outgoing.text, blocks=blocks, **thread)


class ClinicSlackInput(MessagingChannel, SlackInput):
    def make_api_client(self) -> AsyncWebClient:
        # Without a session of its own, the client opens one per call: nothing to close.
        if self.api_url:
            return AsyncWebClient(self.slack_token, base_url=self.api_url, proxy=self.proxy)
        return AsyncWebClient(self.slack_token, proxy=self.proxy)

    def get_output_channel(self, channel: Optional[str] = None, thread_id: Optional[str] = None,
                           collect: bool = False) -> ClinicSlackOutput:
        return ClinicSlackOutput(self.api_client(), channel or self.slack_channel, thread_id,
                                 collect)

    def authenticate(self, request: Request) -> Optional[HTTPResponse]:
        if not self.is_request_from_slack_authentic(request):
            return auth_failure(bool(request.headers.get("X-Slack-Signature")))
        return None

    async def handle(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        if self._is_ignored_retry(request):
            return response.text("", status=HTTPStatus.CREATED, headers={"X-Slack-No-Retry": "1"})
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type == "application/json":
            payload = parse_json_object(request.body)
            if payload.get("type") != "url_verification" and \
                    not await self.replays.first_time(_text(payload.get("event_id"))):
                return response.text("")
            return self._on_event(request, payload, on_new_message)
        if content_type == "application/x-www-form-urlencoded":
            form_payload = request.form.get("payload")
            if not isinstance(form_payload, str):
                raise InvalidPayload("form must carry a JSON payload")
            payload = parse_json_object(form_payload.encode())
            if not await self.replays.first_time(_text(payload.get("trigger_id"))):
                return response.text("")
            return self._on_interaction(request, payload, on_new_message)
        raise InvalidPayload("unsupported content type")

    def _is_ignored_retry(self, request: Request) -> bool:
        """Slack's retries after a timeout would run the same turn twice."""
        return bool(request.headers.get(self.retry_num_header)) and (
            request.headers.get(self.retry_reason_header) in self.errors_ignore_retry)

    def _on_event(self, request: Request, payload: Dict[str, Any],
                  on_new_message: OnNewMessage) -> HTTPResponse:
        if payload.get("type") == "url_verification":
            return response.json({"challenge": payload.get("challenge")})
        event = payload.get("event")
        if not isinstance(event, dict):
            return response.text("ignored")
        if not self._is_user_message(payload) or not isinstance(event.get("text"), str):
            return response.text("ignored")  # the bot's own messages, edits, ...
        users = payload.get("authed_users")
        if not isinstance(users, list):
            authorizations = payload.get("authorizations") or [{}]
            users = [authorizations[0].get("user_id")]
        metadata = {"out_channel": event.get("channel"),
                    "thread_id": event.get("thread_ts", event.get("ts")), "users": users}
        if not self._is_supported_channel(payload, metadata):
            return response.text("channel not supported")
        text = self._sanitize_user_message(event["text"], metadata["users"])
        self._start_turn(request, on_new_message, event.get("user"), text, metadata)
        return response.text("")

    def _on_interaction(self, request: Request, payload: Dict[str, Any],
                        on_new_message: OnNewMessage) -> HTTPResponse:
        actions = payload.get("actions")
        if actions and not (isinstance(actions, list) and all(isinstance(a, dict) for a in actions)):
            raise InvalidPayload("actions must be a list of objects")
        if not self._is_interactive_message(payload):
            return response.text("ignored")
        try:
            text = self._get_interactive_response(payload["actions"][0])
        except (AttributeError, IndexError, KeyError, TypeError):
            raise InvalidPayload("the action is malformed") from None
        if not isinstance(text, str):
            return response.text("ignored")  # link buttons carry no value
        sender_id = _object(payload.get("user")).get("id")
        message = _object(payload.get("message"))
        metadata = {"out_channel": _object(payload.get("channel")).get("id"),
                    "thread_id": message.get("thread_ts", message.get("ts")),
                    "users": [sender_id]}
        self._start_turn(request, on_new_message, sender_id, text, metadata)
        return response.text("")

    def _start_turn(self, request: Request, on_new_message: OnNewMessage, sender_id: Any,
                    text: str, metadata: Dict[str, Any]) -> None:
        if not isinstance(sender_id, str) or not sender_id:
            raise InvalidPayload("the event has no user")
        conversation_id = valid_sender(self._get_conversation_id(
            sender_id, metadata["out_channel"], metadata["thread_id"]), "conversation id")
        output = self.get_output_channel(
            metadata["out_channel"], metadata["thread_id"] if self.use_threads else None,
            collect=True)
        task = asyncio.create_task(self.handle_user_text(
            request, on_new_message, output, sender_id=conversation_id, text=text,
            metadata=metadata))
        self._background_tasks.add(task)  # a reference, so the task is not collected
        task.add_done_callback(self._background_tasks.discard)
