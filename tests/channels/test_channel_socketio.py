"""Socket.IO channel: merged bot_uttered, validation, rate limits, session persistence."""
from __future__ import annotations

import json
import threading
from typing import Any, Callable, Dict, Iterator, List

import pytest
import requests
import socketio
from channel_harness import CRASH, EMERGENCY, FOLLOW_UP, QUESTION, LiveServer, emergency_line, wait_for

from bot.channels.socketio import ClinicSocketIOInput
from clinic.settings import get_settings

CREDENTIALS = {"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",
               "session_persistence": True}


class Patient:
    """A widget stand-in: one socket.io connection and the events it received."""

    def __init__(self, server: LiveServer, transport: str = "polling") -> None:
        self.events: Dict[str, List[Any]] = {"bot_uttered": [], "input_error": [],
                                             "session_confirm": [], "session_refused": []}
        self._lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)
        for event in self.events:
            self.client.on(event, handler=self._recorder(event))
        self.client.connect(server.base_url, transports=[transport], socketio_path="socket.io",
                            wait_timeout=10)

    def _recorder(self, event: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            with self._lock:
                self.events[event].append(args[0] if args else None)
        return record

    def start_session(self, session_id: Any = None, token: Any = None) -> str:
        """A new conversation, or with its token the one it continues; returns its id."""
        confirmed = len(self.events["session_confirm"])
        self.client.emit("session_request", {"session_id": session_id, "token": token})
        wait_for(lambda: len(self.events["session_confirm"]) > confirmed)
        return self.events["session_confirm"][-1]["session_id"]

    @property
    def token(self) -> str:
        return self.events["session_confirm"][-1]["token"]

    def refused(self, request: Dict[str, Any]) -> Dict[str, Any]:
        self.client.emit("session_request", request)
        return wait_for(lambda: self.events["session_refused"])[-1]

    def say(self, text: Any, session_id: Any, **extra: Any) -> None:
        self.client.emit("user_uttered", {"message": text, "session_id": session_id, **extra})

    def bot_messages(self, count: int) -> List[Dict[str, Any]]:
        wait_for(lambda: len(self.events["bot_uttered"]) >= count)
        return self.events["bot_uttered"]

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture
def server(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve(ClinicSocketIOInput.from_credentials(CREDENTIALS))


@pytest.fixture
def patients(server: LiveServer) -> Iterator[Callable[..., Patient]]:
    opened: List[Patient] = []

    def open_patient(transport: str = "polling") -> Patient:
        opened.append(Patient(server, transport))
        return opened[-1]

    yield open_patient
    for patient in opened:
        patient.close()


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_one_bot_uttered_per_response(server: LiveServer, patients: Callable[..., Patient],
                                      transport: str) -> None:
    patient = patients(transport)
    session_id = patient.start_session()
    assert len(session_id) == 32  # made by the server
    patient.say("question", session_id)
    assert patient.bot_messages(1) == [QUESTION]
    assert server.dialogue.received[0].sender_id == session_id
    assert server.dialogue.received[0].input_channel == "socketio"


def test_escalation_is_emitted_first(server: LiveServer, patients: Callable[..., Patient]
                                     ) -> None:
    patient = patients()
    patient.say("numbness", patient.start_session())
    assert patient.bot_messages(2) == [EMERGENCY, FOLLOW_UP]


def test_a_late_escalation_is_logged(server: LiveServer, patients: Callable[..., Patient],
                                     caplog: pytest.LogCaptureFixture) -> None:
    patient = patients()
    patient.say("late emergency", patient.start_session())
    patient.bot_messages(2)
    assert any("escalation came after" in record.getMessage() for record in caplog.records)


def test_session_survives_a_reconnect(server: LiveServer, patients: Callable[..., Patient]
                                      ) -> None:
    first = patients()
    session_id = first.start_session()
    first.say("hello", session_id)
    first.bot_messages(1)
    token = first.token
    first.close()
    again = patients()
    assert again.start_session(session_id, token) == session_id
    again.say("question", session_id)
    assert again.bot_messages(1) == [QUESTION]
    assert [m.sender_id for m in server.dialogue.received] == [session_id, session_id]


def test_a_known_id_cannot_hijack_the_conversation(server: LiveServer,
                                                   patients: Callable[..., Patient],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    victim = patients()
    victim_id = victim.start_session()
    victim.say("hello", victim_id)
    victim.bot_messages(1)
    attacker = patients()
    own_id = attacker.start_session()
    forged = victim.token[:-4] + ("AAAA" if not victim.token.endswith("AAAA") else "BBBB")
    for request in ({"session_id": victim_id}, {"session_id": victim_id, "token": attacker.token},
                    {"session_id": victim_id, "token": forged}, {"token": forged}):
        attacker.events["session_refused"].clear()
        assert attacker.refused(request)["status"] in (401, 403), request
    # Its socket is still bound to its own conversation: a message naming the victim's is refused.
    attacker.say("/restart", victim_id)
    assert "not this connection's conversation" in wait_for(lambda: attacker.events["input_error"])[0]["error"]
    # The victim's next replies reach the victim only.
    victim.say("question", victim_id)
    assert victim.bot_messages(2)[-1] == QUESTION
    attacker.say("hi", own_id)
    assert attacker.bot_messages(1) == [{"text": "echo: hi"}]
    assert [(m.sender_id, m.text) for m in server.dialogue.received] == [
        (victim_id, "hello"), (victim_id, "question"), (own_id, "hi")]
    assert victim_id not in caplog.text and victim.token not in caplog.text


def test_a_message_before_any_session_is_refused(server: LiveServer,
                                                 patients: Callable[..., Patient]) -> None:
    patient = patients()
    patient.say("hello", "0" * 32)
    assert "session_request" in wait_for(lambda: patient.events["input_error"])[0]["error"]
    assert server.dialogue.received == []


def test_start_again_binds_the_socket_to_a_new_conversation(
        server: LiveServer, patients: Callable[..., Patient]) -> None:
    patient = patients()
    old = patient.start_session()
    new = patient.start_session()
    assert new != old
    patient.say("hi", old)
    assert wait_for(lambda: patient.events["input_error"])
    patient.say("question", new)
    assert patient.bot_messages(1) == [QUESTION]
    assert [m.sender_id for m in server.dialogue.received] == [new]


@pytest.mark.parametrize("event", [
    pytest.param("just a string", id="string"),
    pytest.param(["list"], id="list"),
    pytest.param({"message": 5, "session_id": "session-1"}, id="number-message"),
    pytest.param({"message": {"nested": [[[]]]}, "session_id": "session-1"}, id="object"),
    pytest.param({"session_id": "session-1"}, id="no-message"),
    pytest.param({"message": "hi"}, id="no-session"),
    pytest.param({"message": "hi", "session_id": "bad id!"}, id="bad-session"),
    pytest.param({"message": "hi", "session_id": "twilio:+447700900123"}, id="session-of-a-messaging-channel"),
    pytest.param({"message": "x" * (get_settings().max_message_chars + 1), "session_id": "session-1"}, id="too-long"),
    pytest.param({"message": "hi", "session_id": "session-1", "metadata": "{oops"},
                 id="metadata-text"),
])
def test_bad_events_get_an_error_event_and_never_reach_the_dialogue(
        server: LiveServer, patients: Callable[..., Patient], event: Any) -> None:
    patient = patients()
    session_id = patient.start_session()
    if isinstance(event, dict) and event.get("session_id") == "session-1":
        event = {**event, "session_id": session_id}
    patient.client.emit("user_uttered", event)
    assert wait_for(lambda: patient.events["input_error"])[0]["error"]
    patient.say("question", session_id)  # the connection still works
    assert patient.bot_messages(1) == [QUESTION]
    assert server.dialogue.texts == ["question"]


def test_text_is_cleaned_and_metadata_kept(server: LiveServer,
                                           patients: Callable[..., Patient]) -> None:
    patient = patients()
    patient.say("my\x00 back\x1b", patient.start_session(), metadata={"page": "/"})
    patient.bot_messages(1)
    assert server.dialogue.received[0].text == "my back"
    assert server.dialogue.received[0].metadata == {"page": "/"}


def test_a_failing_dialogue_still_sends_the_emergency_line(
        patients: Callable[..., Patient]) -> None:
    patient = patients()
    patient.say(CRASH, patient.start_session())
    assert patient.bot_messages(2)[0] == {"text": emergency_line()}


def test_sessions_are_rate_limited(monkeypatch: pytest.MonkeyPatch,
                                   serve: Callable[..., LiveServer]) -> None:
    monkeypatch.setenv("CLINIC_RATE_LIMIT_PER_MINUTE", "1")
    monkeypatch.setenv("CLINIC_RATE_LIMIT_BURST", "2")
    server = serve(ClinicSocketIOInput.from_credentials(CREDENTIALS))
    patient = Patient(server)
    try:
        session_id = patient.start_session()
        for text in ("one", "two", "three"):
            patient.say(text, session_id)
        messages = [message["text"] for message in patient.bot_messages(4)]
        assert emergency_line() in messages  # events are handled concurrently: any order
        assert any("faster than we can answer" in text for text in messages)
        assert sorted(server.dialogue.texts) == ["one", "two"]
    finally:
        patient.close()


def test_a_packet_too_deep_to_decode_leaves_the_connection_working(server: LiveServer) -> None:
    """Raw engine.io polling, as a hostile client could send it: python-socketio drops the
    packet (logging an error) before any handler runs."""
    base = server.url("/socket.io/")
    handshake = requests.get(base, params={"EIO": "4", "transport": "polling"}, timeout=10)
    query = {"EIO": "4", "transport": "polling", "sid": json.loads(handshake.text[1:])["sid"]}
    requests.post(base, params=query, data="40", timeout=10)  # join the default namespace
    requests.get(base, params=query, timeout=10)
    requests.post(base, params=query, data='42["session_request",{}]', timeout=10)
    confirm = requests.get(base, params=query, timeout=10).text
    session_id = json.loads(confirm[confirm.index("["):])[1]["session_id"]
    deep = "[" * 30000 + "]" * 30000
    reply = requests.post(base, params=query, data=f'42["user_uttered",{deep}]', timeout=10)
    assert reply.status_code == 200
    message = json.dumps(["user_uttered", {"message": "hi", "session_id": session_id}])
    requests.post(base, params=query, data=f"42{message}", timeout=10)
    assert '"echo: hi"' in requests.get(base, params=query, timeout=10).text
    assert server.dialogue.texts == ["hi"]


def test_only_the_configured_origins_may_open_the_socket(serve: Callable[..., LiveServer],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_SOCKET_ORIGINS", "https://clinic.example")
    live = serve(ClinicSocketIOInput.from_credentials(CREDENTIALS))
    stranger = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        stranger.connect(live.base_url, transports=["polling"], socketio_path="socket.io", wait_timeout=5,
                         headers={"Origin": "https://elsewhere.example"})
    clinic = socketio.Client(reconnection=False)
    clinic.connect(live.base_url, transports=["polling"], socketio_path="socket.io", wait_timeout=5,
                   headers={"Origin": "https://clinic.example"})
    assert clinic.connected
    clinic.disconnect()
