"""A live Sanic server on a free local port, in a thread, with the channels under test,
a stub dialogue in place of Rasa's agent and local fakes of the platforms' APIs.
Nothing leaves 127.0.0.1."""
from __future__ import annotations

import asyncio
import copy
import json
import socket
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from rasa.core.channels.channel import InputChannel, UserMessage, register
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Sanic, response
from sanic.request import Request

Sanic.test_mode = True  # many apps per process

EMERGENCY_NUMBER = "112"  # the tests set CLINIC_EMERGENCY_NUMBER to it
SECRET_KEY = "channel-tests-secret-key"  # and CLINIC_SECRET_KEY to this
REDIS_URL = "redis://127.0.0.1:6379/0"  # the redis_prefix fixture's


def emergency_line() -> str:
    return f"If this is an emergency, call {EMERGENCY_NUMBER} now."


EMERGENCY_TEXT = "Numbness in the saddle area needs help now: call 112 or go to A&E."
QUESTION = {
    "text": "Does the pain go down your leg?",
    "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"},
                {"title": "Not sure", "payload": "/not_sure"}],
    "custom": {"ask": "leg_pain"},
}
EMERGENCY = {"text": EMERGENCY_TEXT, "custom": {"triage": {"level": "emergency"}}}
FOLLOW_UP = {"text": "Thank you for telling me."}
PLAN_STEPS = [
    {"id": f"step{number}", "title": f"Step {number}",
     "text": " ".join(f"Sentence {number}.{s} of the self-care plan: keep moving gently, "
                      "little and often." for s in range(1, 9))}
    for number in range(1, 11)
]
PLAN = {"text": "Here is your self-care plan.", "custom": {"plan": PLAN_STEPS}}

# What the stub bot answers to each message; anything else gets an echo.
SCRIPTS: Dict[str, List[Dict[str, Any]]] = {
    "question": [QUESTION],
    "numbness": [EMERGENCY, FOLLOW_UP],        # the bot utters escalations first
    "late emergency": [FOLLOW_UP, EMERGENCY],  # collecting channels must reorder this
    "plan": [PLAN],
}
CRASH = "simulated-dialogue-failure"  # no clinical meaning ("crash" is a road accident)


class StubDialogue:
    """Stands in for ``app.ctx.agent``: records each UserMessage, answers from SCRIPTS
    through the message's output channel as Rasa's processor does, and keeps the
    conversation in a real in-memory tracker store."""

    def __init__(self) -> None:
        self.received: List[UserMessage] = []
        self.tracker_store = InMemoryTrackerStore(Domain.empty())

    @property
    def texts(self) -> List[str]:
        return [message.text for message in self.received]

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        if message.text.startswith(CRASH):
            raise RuntimeError("the dialogue broke")
        replies = SCRIPTS.get(message.text, [{"text": f"echo: {message.text}"}])
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text))
        for reply in copy.deepcopy(replies):
            event = BotUttered(reply.pop("text", None), data=reply)
            tracker.update(event)
            await message.output_channel.send_response(message.sender_id, event.message())
        await self.tracker_store.save(tracker)


class FakePlatforms:
    """Local stand-ins for the Telegram, Slack, Graph and Twilio APIs, mounted on the
    test server under /fake/<platform>/; every call is recorded."""

    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []

    def of(self, platform: str, endpoint: str = "") -> List[Dict[str, Any]]:
        return [call["body"] for call in self.calls
                if call["platform"] == platform and call["path"].endswith(endpoint)]

    def mount(self, app: Sanic) -> None:
        @app.route("/fake/<platform>/<path:path>", methods=["POST"])
        async def fake_api(request: Request, platform: str, path: str) -> Any:
            if request.content_type.startswith("application/json"):
                body = request.json
            else:
                body = {key: values[0] for key, values in request.form.items()}
            self.calls.append({"platform": platform, "path": path, "body": body})
            if platform == "telegram":
                result: Any = True
                if path.endswith("sendMessage"):
                    result = {"message_id": len(self.calls), "date": 0,
                              "chat": {"id": int(body["chat_id"]), "type": "private"},
                              "text": body["text"]}
                return response.json({"ok": True, "result": result})
            if platform == "slack":
                return response.json({"ok": True, "ts": "1.0"})
            if platform == "twilio":
                return response.json({"sid": f"SM{len(self.calls)}", "status": "queued",
                                      "to": body.get("To"), "from": body.get("From")},
                                     status=201)
            return response.json({"recipient_id": "1", "message_id": "m"})


ChannelsOrFactory = Union[Sequence[InputChannel], Callable[[str], Sequence[InputChannel]]]


class LiveServer:
    """``channels``: the input channels, or a function of the server's base URL making
    them (for channels whose platform API URL points back at this server's fakes)."""

    def __init__(self, channels: ChannelsOrFactory) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        if callable(channels):
            channels = channels(self.base_url)
        self.channels = list(channels)
        self.dialogue = StubDialogue()
        self.platforms = FakePlatforms()
        self.app = Sanic(f"channels_test_{uuid.uuid4().hex}")
        self.app.ctx.agent = self.dialogue  # what Rasa's register() hands messages to
        self.platforms.mount(self.app)
        register(self.channels, self.app, route="/webhooks/")
        self._ready = threading.Event()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> "LiveServer":
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("test server did not start")
        return self

    def __exit__(self, *_: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(self.app.create_server(
            sock=self._socket, return_asyncio_server=True, access_log=False))
        loop.run_until_complete(server.startup())
        loop.run_until_complete(server.before_start())
        loop.run_until_complete(server.after_start())
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(server.before_stop())
        server.close()
        for connection in list(server.connections):  # keep-alive clients
            connection.close()
        loop.run_until_complete(server.wait_closed())
        loop.run_until_complete(server.after_stop())
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until ``condition()`` is truthy (Slack turns and socket.io run in the
    background); returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for a condition")


def dumps(payload: Any) -> bytes:
    return json.dumps(payload).encode()
