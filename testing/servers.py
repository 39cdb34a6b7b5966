"""Start the real action server and Rasa server for tests and benchmarks, on free ports.

Rasa takes ~20 s and ~1.3 GB to start, so test sessions start one pair and share it
(tests/conftest.py). Fault tests and benchmarks start their own with other settings.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from clinic.settings import ToolSettings, child_environment

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODEL = ROOT / "models" / "triage.tar.gz"
CREDENTIALS = ROOT / "var" / "credentials.yml"
START_TIMEOUT_SECONDS = 240
# Tests and benchmarks name their REST conversations, as a server-to-server client holding the
# service key may (bot/channels/rest.py); browsers never hold it.
REST_SERVICE_KEY = "test-only-rest-service-key"
REST_HEADERS = {"Authorization": f"Bearer {REST_SERVICE_KEY}"}
# This machine's RabbitMQ, where tests and benchmarks run Rasa's event broker and the projector worker.
RABBITMQ_URL = ToolSettings().test_rabbitmq_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except (OSError, urllib.error.HTTPError):
        return False


def base_env(**overrides: str) -> dict[str, str]:
    env = child_environment(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", CLINIC_ACTION_TIMEOUT_SECONDS="5",
                            RASA_TELEMETRY_ENABLED="false")
    env.setdefault("CLINIC_ACTION_SERVER_TOKEN", "")  # Rasa's endpoints.yml refers to it
    env["CLINIC_REST_SERVICE_KEY"] = REST_SERVICE_KEY
    env.update(overrides)
    return env


@dataclass
class Process:
    name: str
    command: list[str]
    env: dict[str, str]
    health_url: str
    log_path: Path
    popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> "Process":
        deadline = time.monotonic() + timeout
        while not answers(self.health_url):
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up; see {self.log_path}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s; see {self.log_path}")
            time.sleep(0.5)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def action_server(env: dict[str, str], log_dir: Path, port: int | None = None) -> Process:
    port = port or free_port()
    return Process("action server", [str(BIN / "python"), "-m", "actions.server", "--actions", "actions",
                                     "--port", str(port)],
                   env, f"http://127.0.0.1:{port}/health", log_dir / f"actions-{port}.log")


def rasa_server(env: dict[str, str], log_dir: Path, port: int | None = None, model: Path = MODEL,
                extra_args: tuple[str, ...] = ()) -> Process:
    port = port or free_port()
    command = [str(BIN / "python"), "-m", "bot.rasa_main", "run", "--model", str(model), "--endpoints", "bot/endpoints.yml",
               "--credentials", str(CREDENTIALS), "--port", str(port), *extra_args]
    return Process("Rasa", command, env, f"http://127.0.0.1:{port}/", log_dir / f"rasa-{port}.log")


def projector_worker(env: dict[str, str], log_dir: Path) -> Process:
    """The projector worker (no URL: it is up once its log says so; see wait_started)."""
    return Process("projector worker", [str(BIN / "python"), "-m", "storage.projector_worker"], env, "",
                   log_dir / "projector-worker.log")


def wait_started(worker: Process, timeout: float = START_TIMEOUT_SECONDS) -> Process:
    deadline = time.monotonic() + timeout
    while not worker.log_path.exists() or "projector worker started" not in worker.log_path.read_text(errors="replace"):
        if worker.popen.poll() is not None:
            raise RuntimeError(f"the projector worker exited during start-up:\n{worker.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the projector worker did not start; see {worker.log_path}")
        time.sleep(0.2)
    return worker


@dataclass
class Bot:
    """A running action server + Rasa server pair, and the projector worker when asked for."""
    rasa: Process
    actions: Process | None
    env: dict[str, str] = field(default_factory=dict)
    projector: Process | None = None

    @property
    def url(self) -> str:
        return self.rasa.health_url.rstrip("/")

    def say(self, sender: str, message, timeout: float = 60) -> list[dict]:
        return rest_say(self.url, sender, message, timeout)

    def stop(self) -> None:
        self.rasa.stop()
        for process in (self.actions, self.projector):
            if process:
                process.stop()


def rest_post(base_url: str, body: bytes, timeout: float = 60,
              content_type: str = "application/json") -> tuple[int, bytes]:
    request = urllib.request.Request(f"{base_url}/webhooks/rest/webhook", body,
                                     {"Content-Type": content_type, **REST_HEADERS})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def rest_say(base_url: str, sender: str, message, timeout: float = 60) -> list[dict]:
    status, body = rest_post(base_url, json.dumps({"sender": sender, "message": message}).encode(), timeout)
    if status != 200:
        raise AssertionError(f"REST channel answered {status}: {body[:300]!r}")
    return json.loads(body)


def start_bot(log_dir: Path, env: dict[str, str], with_actions: bool = True,
              with_projector: bool = False) -> Bot:
    """Start both servers (in parallel), and the projector worker if asked, and wait until they
    answer."""
    log_dir.mkdir(parents=True, exist_ok=True)
    actions = action_server(env, log_dir) if with_actions else None
    action_url = actions.health_url.replace("/health", "/webhook") if actions else "http://127.0.0.1:9/webhook"
    env = dict(env, CLINIC_ACTION_SERVER_URL=action_url)
    rasa = rasa_server(env, log_dir)
    projector = projector_worker(env, log_dir) if with_projector else None
    for process in (actions, rasa, projector):
        if process:
            process.env = env
            process.start()
    try:
        if actions:
            actions.wait_ready()
        rasa.wait_ready()
        if projector:
            wait_started(projector)
    except RuntimeError:
        Bot(rasa, actions, projector=projector).stop()
        raise
    return Bot(rasa, actions, env, projector)
