"""Shared by the fault tests: the bot's replies read as the e2e tests read them, and a stack of
real servers (Rasa + action server) whose parts a test can stop, pause, kill and restart."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from testing.servers import Process, action_server, base_env, free_port, rasa_server, rest_say

EMERGENCY_OPENING = "This could be serious"
ACTION_TIMEOUT_SECONDS = 3


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def triage_of(replies: list[dict]) -> dict | None:
    return next(((r.get("custom") or {}).get("triage") for r in replies if (r.get("custom") or {}).get("triage")),
                None)


def asks(replies: list[dict]) -> list[str]:
    return [(r.get("custom") or {}).get("ask") for r in replies if (r.get("custom") or {}).get("ask")]


def degraded(replies: list[dict]) -> bool:
    return any((r.get("custom") or {}).get("degraded") for r in replies)


def assert_answered(replies: list[dict]) -> None:
    """A reply, every message of it with text (never silent, never an empty bubble)."""
    assert replies, "the bot said nothing"
    assert all((r.get("text") or "").strip() for r in replies), replies


def assert_emergency_advice(replies: list[dict], number: str = "999") -> None:
    assert_answered(replies)
    assert replies[0]["text"].startswith(EMERGENCY_OPENING), replies[0]["text"][:200]
    assert f"call {number}" in replies[0]["text"].lower()
    assert triage_of(replies)["level"] == "emergency"


def fault_env(**overrides: str) -> dict[str, str]:
    """The bot's environment for fault tests: short action timeout, rate limits off, no Redis
    unless a test sets one, and a known emergency number."""
    env = base_env(CLINIC_EMERGENCY_NUMBER="999", CLINIC_ACTION_TIMEOUT_SECONDS=str(ACTION_TIMEOUT_SECONDS),
                   CLINIC_RATE_LIMIT_PER_MINUTE="0", CLINIC_RATE_LIMIT_IP_PER_MINUTE="0")
    env.pop("CLINIC_REDIS_URL", None)
    env.update(overrides)
    return env


class Stack:
    """An action server on a fixed port and one or more Rasa servers calling it."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.log_dir = log_dir
        self.action_port = free_port()
        self.env = dict(env, CLINIC_ACTION_SERVER_URL=f"http://127.0.0.1:{self.action_port}/webhook")
        self.actions: Process | None = None
        self.rasas: list[Process] = []

    # --- the action server -------------------------------------------------------------------
    def start_actions(self) -> Process:
        if self.actions is None or self.actions.popen is None or self.actions.popen.poll() is not None:
            self.actions = action_server(self.env, self.log_dir, port=self.action_port).start().wait_ready()
        return self.actions

    def kill_actions(self) -> None:
        if self.actions is not None:
            self.actions.stop(signal.SIGKILL)

    def pause_actions(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel, never answered (a hang)."""
        os.killpg(self.actions.popen.pid, signal.SIGSTOP)

    def resume_actions(self) -> None:
        os.killpg(self.actions.popen.pid, signal.SIGCONT)

    # --- Rasa ---------------------------------------------------------------------------------
    def start_rasa(self, port: int | None = None, **env: str) -> Process:
        rasa = rasa_server(dict(self.env, **env), self.log_dir, port=port).start()
        self.rasas.append(rasa)
        return rasa.wait_ready()

    @property
    def rasa(self) -> Process:
        return self.rasas[-1]

    def url(self, rasa: Process | None = None) -> str:
        return (rasa or self.rasa).health_url.rstrip("/")

    def say(self, sender: str, message: str, rasa: Process | None = None, timeout: float = 60) -> list[dict]:
        return rest_say(self.url(rasa), sender, message, timeout)

    def timed_say(self, sender: str, message: str, rasa: Process | None = None) -> tuple[list[dict], float]:
        started = time.monotonic()
        replies = self.say(sender, message, rasa)
        return replies, time.monotonic() - started

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.log_dir.glob("*.log")))

    def stop(self) -> None:
        for rasa in self.rasas:
            rasa.stop()
        if self.actions is not None:
            try:
                self.resume_actions()
            except (ProcessLookupError, TypeError, AttributeError):
                pass
            self.actions.stop()


def stored_events(database_url: str, sender_id: str) -> list[dict]:
    """Rasa's events of one conversation, in the order they were stored."""
    import json

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"),
                                      {"s": sender_id}).all()
    finally:
        engine.dispose()
    return [json.loads(row[0]) for row in rows]


def user_texts(events: list[dict]) -> list[str]:
    return [e.get("text") for e in events if e.get("event") == "user"]


def bot_texts(events: list[dict]) -> list[str]:
    return [e.get("text") for e in events if e.get("event") == "bot"]


# --- the web app (staff console) -------------------------------------------------------------
STAFF_EMAIL = "faults-admin@clinic.example"
STAFF_PASSWORD = "fault-tests-Password-1"


def web_app(env: dict[str, str], log_dir: Path) -> Process:
    """`python -m webapp.wsgi` (waitress) on a free port; migrates the database first."""
    import sys

    port = free_port()
    env = dict(env, CLINIC_WEB_PORT=str(port), CLINIC_WEB_HOST="127.0.0.1")
    return Process("web app", [sys.executable, "-m", "webapp.wsgi"], env,
                   f"http://127.0.0.1:{port}/staff/login", log_dir / f"web-{port}.log")


def create_staff(env: dict[str, str], email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD) -> None:
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "storage.cli", "create-admin", "--email", email],
                   env=dict(env, CLINIC_ADMIN_PASSWORD=password), check=True, capture_output=True,
                   cwd=Path(__file__).resolve().parents[2])


def console_session(base_url: str, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD):
    """A requests session logged in to the console."""
    import re

    import requests

    session = requests.Session()
    page = session.get(f"{base_url}/staff/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = session.post(f"{base_url}/staff/login", timeout=30, allow_redirects=False,
                            data={"email": email, "password": password, "csrf_token": token, "next": "/staff/"})
    assert response.status_code == 302, response.text[:500]
    return session
