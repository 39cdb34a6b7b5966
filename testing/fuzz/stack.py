"""The bot under test with every channel on fake secrets, and a fake of the messaging platforms'
APIs it answers through."""
from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Tuple
from urllib.parse import parse_qs

from testing.servers import ROOT, Process, action_server, base_env, rasa_server

MAX_BODY_BYTES = 64 * 1024          # CLINIC_MAX_BODY_BYTES for the bot under test
SANIC_MAX_BYTES = 1024 * 1024       # SANIC_REQUEST_MAX_SIZE, as the Makefile sets it
MAX_MESSAGE_CHARS = 20000
EMERGENCY_NUMBER = "999"

# --- secrets for the messaging channels (fake, for the fake platform API) -----------------
TELEGRAM_TOKEN = "123456:fuzz-telegram-token-not-real"
TELEGRAM_SECRET = "fuzz-telegram-secret_TOKEN"
SLACK_SECRET = "fuzz-slack-signing-secret"
FACEBOOK_SECRET = "fuzz-facebook-app-secret"
TWILIO_TOKEN = "fuzz-twilio-auth-token"
ACTION_TOKEN = "fuzz-action-server-token-5f1c"
API_TOKEN = "fuzz-rasa-api-token-77ad"
TWILIO_WEBHOOK_URL = "https://clinic.example/webhooks/twilio/webhook"  # what Twilio signs
SECRETS = {
    "TELEGRAM_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
    "SLACK_TOKEN": "xoxb-fuzz-slack-bot-token", "SLACK_SIGNING_SECRET": SLACK_SECRET,
    "FACEBOOK_VERIFY_TOKEN": "fuzz-facebook-verify-token", "FACEBOOK_APP_SECRET": FACEBOOK_SECRET,
    "FACEBOOK_PAGE_ACCESS_TOKEN": "fuzz-facebook-page-access-token",
    "TWILIO_ACCOUNT_SID": "AC" + "f" * 32, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    "CLINIC_ACTION_SERVER_TOKEN": ACTION_TOKEN, "CLINIC_SECRET_KEY": "fuzz-console-secret-key-90c2",
}


# --- the fake platform APIs -----------------------------------------------------------------
class FakePlatformAPI:
    """Telegram Bot API, Slack Web API, Graph Send API and Twilio REST, just enough to accept
    what the channels send. Counts calls per platform."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.lock = threading.Lock()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                platform = self.path.strip("/").split("/", 1)[0]
                with api.lock:
                    api.calls[platform] += 1
                status, answer = api.answer(platform, self.path, body, self.headers.get("Content-Type", ""))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def answer(platform: str, path: str, body: bytes, content_type: str) -> Tuple[int, Any]:
        if platform == "telegram":
            if path.endswith("sendMessage"):
                fields = parse_qs(body.decode("utf-8", "replace")) if "json" not in content_type else {}
                if "json" in content_type:
                    fields = {k: [v] for k, v in json.loads(body or b"{}").items()}
                chat = int((fields.get("chat_id") or ["1"])[0])
                return 200, {"ok": True, "result": {"message_id": 1, "date": 0,
                                                    "chat": {"id": chat, "type": "private"},
                                                    "text": (fields.get("text") or [""])[0]}}
            return 200, {"ok": True, "result": True}
        if platform == "slack":
            return 200, {"ok": True, "ts": "1.0"}
        if platform == "twilio":
            return 201, {"sid": "SM" + uuid.uuid4().hex, "status": "queued"}
        return 200, {"recipient_id": "1", "message_id": "m"}

    def __enter__(self) -> "FakePlatformAPI":
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the bot under test -------------------------------------------------------------------------
ENDPOINTS_WITH_TOKEN = """\
action_endpoint:
  url: ${CLINIC_ACTION_SERVER_URL}
  headers:
    Authorization: Bearer ${CLINIC_ACTION_SERVER_TOKEN}
nlg:
  type: bot.nlg.ClinicNLG
tracker_store:
  type: bot.stores.ClinicTrackerStore
lock_store:
  type: bot.stores.ClinicLockStore
"""


@dataclass
class HostileStack:
    rasa: Process
    actions: Process
    env: Dict[str, str]
    log_dir: Path

    @property
    def url(self) -> str:
        return self.rasa.health_url.rstrip("/")

    def stop(self) -> None:
        self.rasa.stop()
        self.actions.stop()

    def logs(self) -> Dict[str, str]:
        return {path.name: path.read_text(errors="replace") for path in sorted(self.log_dir.glob("*.log"))}


def hostile_env(database_url: str, platform_url: str, **overrides: str) -> Dict[str, str]:
    env = base_env(CLINIC_DATABASE_URL=database_url, CLINIC_EMERGENCY_NUMBER=EMERGENCY_NUMBER,
                   CLINIC_MAX_BODY_BYTES=str(MAX_BODY_BYTES), SANIC_REQUEST_MAX_SIZE=str(SANIC_MAX_BYTES),
                   CLINIC_MAX_MESSAGE_CHARS=str(MAX_MESSAGE_CHARS),
                   # per sender as in production (30/min, burst 10); per address off: one client here
                   CLINIC_RATE_LIMIT_PER_MINUTE="30", CLINIC_RATE_LIMIT_BURST="10",
                   CLINIC_RATE_LIMIT_IP_PER_MINUTE="0",
                   TELEGRAM_WEBHOOK_URL="https://clinic.example/webhooks/telegram/webhook",
                   TELEGRAM_API_URL=f"{platform_url}/telegram", SLACK_API_URL=f"{platform_url}/slack/api/",
                   FACEBOOK_API_URL=f"{platform_url}/graph", TWILIO_API_URL=f"{platform_url}/twilio",
                   TWILIO_NUMBER="+15005550006", TWILIO_WEBHOOK_URL=TWILIO_WEBHOOK_URL,
                   RASA_API_TOKEN=API_TOKEN, **SECRETS)
    env.pop("CLINIC_REDIS_URL", None)
    env.update(overrides)
    return env


def start_hostile_stack(log_dir: Path, env: Dict[str, str], token_endpoints: bool = True) -> HostileStack:
    """The action server (actions/server.py, with the shared token) and Rasa with every channel
    enabled (credentials generated from env into log_dir) and its HTTP API on (API_TOKEN), on
    free ports."""
    import subprocess
    import sys

    log_dir.mkdir(parents=True, exist_ok=True)
    credentials = log_dir / "credentials.yml"
    subprocess.run([sys.executable, "-m", "bot.channels.credentials", str(credentials)], env=env, cwd=ROOT,
                   check=True, capture_output=True)
    endpoints = log_dir / "endpoints.yml"
    endpoints.write_text(ENDPOINTS_WITH_TOKEN)
    actions = action_server(env, log_dir)
    actions.command = [sys.executable, "-m", "actions.server", "--actions", "actions",
                       "--port", actions.health_url.rsplit(":", 1)[1].split("/")[0]]
    env = dict(env, CLINIC_ACTION_SERVER_URL=actions.health_url.replace("/health", "/webhook"))
    actions.env = env
    extra = ("--credentials", str(credentials), "--enable-api") + \
        (("--endpoints", str(endpoints)) if token_endpoints else ())
    rasa = rasa_server(env, log_dir, extra_args=extra)
    actions.start()
    rasa.start()
    try:
        actions.wait_ready()
        rasa.wait_ready()
    except RuntimeError:
        rasa.stop()
        actions.stop()
        raise
    return HostileStack(rasa, actions, env, log_dir)
