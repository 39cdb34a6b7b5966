"""A stand-in for Rasa's socket.io channel that answers from a scripted conversation.

Speaks what our socket.io channel (bot/channels/socketio.py) speaks: `session_request` {} makes
a new conversation, {session_id, token} continues one; either joins the room named by the id and
is answered by `session_confirm` {session_id, token} (a fake token: this fake checks none);
`user_uttered` {message, session_id} is answered in that room by `bot_uttered`. Like Rasa it
sends no CORS headers (`cors_allowed_origins=[]`), so the widget must use websockets.

The widget tests run against the real bot (chat_scenario.py); this fake is for what the real
one can't be made to do: drop and refuse connections.

Run on its own to try the page by hand: python tests/web/fake_rasa.py --port 5005
"""
from __future__ import annotations

import argparse
import asyncio
import socket
import threading
import uuid

import socketio
from aiohttp import web
from chat_scenario import EMERGENCY_NUMBER, INIT_PAYLOAD, Turn

# ---- the fake's script: our channel's payload {"text"?, "buttons"?, "custom"?} ----

YES_NO = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]

FAKE_OPENING = Turn(
    replies=({
        "text": "Hello, I'm the clinic's symptom checker (a fake one, for tests).\n\nDo you agree "
                "to us keeping this conversation so a clinician can read it?",
        "buttons": YES_NO,
    },),
    expect="Do you agree",
)

FAKE_PLAN = [
    {"id": "heel_walking", "title": "Heel walking", "text": "Walk on your heels for a minute."},
    {"id": "gastrocnemius_stretch", "title": "Calf stretch", "text": "Lean on a wall, knee straight."},
]

# From consent to the self-care outcome.
FAKE_TO_SELF_CARE = (
    Turn(
        click="Yes",
        replies=({"text": "Thank you. Tell me in your own words what is troubling you."},),
        expect="in your own words",
    ),
    Turn(
        type="My lower back has hurt since I lifted a box last week",
        replies=({
            "text": "Do you have any numbness or tingling around your bottom or genitals?",
            "buttons": YES_NO,
            "custom": {"ask": "saddle_numbness"},
        },),
        expect="numbness or tingling",
    ),
    Turn(
        click="No",
        replies=(
            {
                "text": "Thank you. Your answers suggest back pain you can look after at home.",
                "custom": {"triage": {"level": "self_care",
                                      "plan": [step["id"] for step in FAKE_PLAN]}},
            },
            {"text": "Here is your self-care plan:", "custom": {"plan": FAKE_PLAN}},
        ),
        expect="self-care plan",
    ),
)

# Free text the fake answers at any point of the conversation.
FAKE_EMERGENCY = Turn(
    type="I can't feel it when I wipe",
    replies=({
        "text": f"This could be serious. Please call {EMERGENCY_NUMBER} now.",
        "custom": {"triage": {"level": "emergency", "call": EMERGENCY_NUMBER}},
    },),
    expect="This could be serious",
)

FREE_TEXT_TURNS = (FAKE_EMERGENCY,)

SCRIPT = (FAKE_OPENING, *FAKE_TO_SELF_CARE)


def expected_message(index: int) -> str:
    """What the widget must send to play SCRIPT[index]: typed text or the button's payload."""
    turn = SCRIPT[index]
    if turn.type:
        return turn.type
    if turn.click:
        buttons = [button for reply in SCRIPT[index - 1].replies for button in reply.get("buttons", [])]
        return next(button["payload"] for button in buttons if button["title"] == turn.click)
    return INIT_PAYLOAD


class FakeRasa:
    def __init__(self, reply_delay: float = 0.3) -> None:
        self.reply_delay = reply_delay
        self.refuse_connections = False
        self.progress: dict[str, int] = {}  # session id -> index of its next SCRIPT turn
        self.received: list[tuple[str, str]] = []  # (session id, message), for assertions
        self.sessions: list[str] = []  # the id each session_request was confirmed with
        self.sids: set[str] = set()
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[])
        self._app = web.Application()
        self._sio.attach(self._app, socketio_path="socket.io")
        self._runner = web.AppRunner(self._app)
        self._register_handlers()

    def _register_handlers(self) -> None:
        sio = self._sio

        @sio.on("connect")
        async def connect(sid, environ, auth=None):
            if self.refuse_connections:
                return False
            self.sids.add(sid)
            return True

        @sio.on("disconnect")
        async def disconnect(sid):
            self.sids.discard(sid)

        @sio.on("session_request")
        async def session_request(sid, data):
            data = data or {}
            session_id = data.get("session_id") if data.get("token") else uuid.uuid4().hex
            self.sessions.append(session_id)
            sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", {"session_id": session_id, "token": f"fake-{session_id}"},
                           room=sid)

        @sio.on("user_uttered")
        async def user_uttered(sid, data):
            session_id, message = data.get("session_id"), data.get("message", "")
            if not session_id:
                return  # Rasa ignores messages without a session id
            self.received.append((session_id, message))
            for reply in self._answer(session_id, message):
                await asyncio.sleep(self.reply_delay)
                await sio.emit("bot_uttered", reply, room=session_id)

    def _answer(self, session_id: str, message: str) -> tuple[dict, ...]:
        if message == "/restart":
            self.progress[session_id] = 0
            return ()
        free_text = next((turn for turn in FREE_TEXT_TURNS if turn.type == message), None)
        if free_text:
            return free_text.replies
        index = self.progress.get(session_id, 0)
        if index >= len(SCRIPT):
            return ({"text": "(fake bot) That is the end of the scripted conversation."},)
        expected = expected_message(index)
        if message != expected:
            return ({"text": f"(fake bot) expected {expected!r}, got {message!r}"},)
        self.progress[session_id] = index + 1
        return SCRIPT[index].replies

    # ---- running it in a background thread ----

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        listener = socket.create_server((host, port))
        self.url = f"http://{host}:{listener.getsockname()[1]}"
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._runner.setup())
            self._loop.run_until_complete(web.SockSite(self._runner, listener).start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-rasa", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("fake Rasa server did not start")
        return self.url

    def stop(self) -> None:
        self._run(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _shutdown(self) -> None:
        await self._runner.cleanup()
        # engine.io's ping and service tasks outlive the server; end them quietly.
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def drop_connections(self) -> None:
        """Disconnect every client from the server side, as a restarting server would."""
        for sid in list(self.sids):
            self._run(self._sio.disconnect(sid))

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)


def _serve_forever() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5005)
    args = parser.parse_args()
    bot = FakeRasa()
    print("fake Rasa on", bot.start(port=args.port), "- Ctrl+C stops it")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        bot.stop()


if __name__ == "__main__":
    _serve_forever()
