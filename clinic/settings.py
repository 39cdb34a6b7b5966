"""Settings read from the environment: one typed object (pydantic's BaseSettings) that every
process reads, and the only place the environment is read.

docker-compose.yml, the Makefile and the tests set these same variables. A variable set but blank
counts as unset (compose passes `${VAR:-}` through as an empty string).
"""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any, Dict, Literal, Mapping, Tuple

from pydantic import BaseSettings, Field

REPO_ROOT = Path(__file__).resolve().parent.parent


def environment() -> Mapping[str, str]:
    """The raw environment, for the tools that hand it on whole: the credentials file generator
    (every messaging platform's variables) and the Rasa launcher (its API token)."""
    return os.environ


def child_environment(**overrides: str) -> dict[str, str]:
    """This process's environment with `overrides`, for a process it starts (servers, Rasa)."""
    return {**os.environ, **overrides}


@contextlib.contextmanager
def environment_set(**values: str):
    """Set variables for this process (and what it starts) while the block runs; restore after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def set_environment(**values: str) -> None:
    """Set variables for the rest of this process and what it starts (benchmarks' child processes)."""
    os.environ.update(values)


def _var_dir() -> Path:
    return Path(os.environ.get("CLINIC_VAR_DIR", "").strip() or REPO_ROOT / "var")


VAR_DIR = _var_dir()


class _FromEnvironment(BaseSettings):
    class Config:
        env_prefix = "CLINIC_"
        anystr_strip_whitespace = True

        @classmethod
        def customise_sources(cls, init_settings, env_settings, file_secret_settings):
            def env_without_blanks(settings: BaseSettings) -> Dict[str, Any]:
                return {key: value for key, value in env_settings(settings).items()
                        if not (isinstance(value, str) and not value.strip())}
            return init_settings, env_without_blanks, file_secret_settings


class Settings(_FromEnvironment):
    # Storage: SQLite file by default, PostgreSQL when CLINIC_DATABASE_URL says so.
    database_url: str = Field(default_factory=lambda: f"sqlite:///{VAR_DIR / 'clinic.db'}")
    # Redis: lock store and shared rate limits for several Rasa replicas; unset = in-memory.
    redis_url: str = ""
    # RabbitMQ (amqp://user:password@host:5672/): Rasa's event broker wakes the projector worker
    # at each stored turn (storage/stream.py); unset = the worker polls the events table.
    rabbitmq_url: str = ""
    # What patients are told to call.
    emergency_number: str = "999"
    urgent_number: str = "111"
    clinic_name: str = Field("the clinic", env="CLINIC_NAME")
    clinic_phone: str = Field("01632 960000", env="CLINIC_PHONE")
    clinic_hours: str = Field("Mon-Fri 08:00-18:00", env="CLINIC_HOURS")
    clinic_timezone: str = Field("Europe/London", env="CLINIC_TIMEZONE")
    out_of_hours_message: str = "The clinic is closed right now, so the team will get in touch after it opens"
    # Check-ins after a self-care or routine outcome, for patients who ask (storage/followups.py):
    # offered only when on, and sent by `python -m bot.followups send-due` through the SMS gateway
    # (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_NUMBER) or the patient's Telegram/Slack chat.
    follow_ups_enabled: bool = False
    # Numbers typed without a country code are read as this country's (ISO 3166 code).
    phone_region: str = "GB"
    # Staff console. Empty when unset; the web app and the storage CLI then use with_secret_key().
    secret_key: str = ""
    retention_days: int = 365
    # Conversations without consent keep no text beyond this many hours.
    unconsented_retention_hours: int = 24
    # Where the widget finds Rasa (socket.io), as the browser sees it.
    rasa_public_url: str = "http://localhost:5005"
    web_port: int = 8000
    # Address the web app listens on (0.0.0.0 inside a container).
    web_host: str = "127.0.0.1"
    # Served behind a TLS-terminating proxy: Secure cookies and HSTS.
    behind_tls: bool = False
    # Reverse proxies in front of the web app whose X-Forwarded-* headers are trusted.
    trusted_proxies: int = 0
    # Staff console sessions end after this much inactivity, and this long after login at most.
    staff_idle_minutes: int = 30
    staff_max_session_hours: int = 12
    # Console links (encrypted conversation references, list pages) stop working after this long.
    console_link_minutes: int = 720
    # Sign-in back-off, per account: after this many failures each further attempt must wait,
    # twice as long each time up to the maximum; failures are forgotten after a quiet window.
    login_max_failures: int = 5
    login_backoff_max_seconds: int = 120
    login_window_minutes: int = 15
    # Per address: failures on emails that are no account, before the address is slowed too.
    login_address_max_unknown: int = 20
    # Channels: bodies above this get 413 from the channel (SANIC_REQUEST_MAX_SIZE caps every route).
    max_body_bytes: int = 64 * 1024
    max_message_chars: int = 20000
    # Token buckets: steady rate per minute and burst size; a rate of 0 disables the rule.
    rate_limit_per_minute: int = 30
    rate_limit_burst: int = 10
    rate_limit_ip_per_minute: int = 300
    rate_limit_ip_burst: int = 100
    rate_limit_prefix: str = "clinic:ratelimit:"
    # Browser origins allowed to open the widget's socket (comma-separated); unset = no check.
    socket_origins: str = ""
    # Web conversations (widget, REST): a signed token proves a client may continue one; it
    # lapses this long after it was last issued (every reconnect and REST turn issues a new one).
    web_conversation_hours: int = 24
    # The widget wipes its transcript after this much inactivity; "session" storage is gone when
    # the tab closes, "local" survives it (a single-user device only).
    widget_idle_minutes: int = 30
    widget_storage: Literal["session", "local"] = "session"
    # Server-to-server REST clients (tests, benchmarks, the clinic's own systems) holding this key
    # may name the conversation; empty = no such client. Never give it to a browser.
    rest_service_key: str = ""
    # Webhook replay protection: each platform message id is remembered this long.
    webhook_replay_hours: int = 24
    webhook_replay_prefix: str = "clinic:replay:"
    # Rasa: how long a call to the action server and a wait for the database may take.
    action_timeout_seconds: int = 10
    db_retry_seconds: float = 25.0
    # Shared secret between Rasa and the action server; empty = no check (local use).
    action_server_token: str = ""
    # Address the action server listens on.
    sanic_host: str = Field("127.0.0.1", env="SANIC_HOST")
    # `make run` (scripts/serve.py): where Rasa listens, and the Rasa and action server ports.
    rasa_host: str = "127.0.0.1"
    rasa_port: int = 5005
    actions_port: int = 5055
    # Origin allowed to call Rasa from a browser under `make run` (default: the web app's).
    cors_origin: str = ""
    # Outbox to the clinic's own system (storage/outbox.py, docs/webhook.md): off while the URL is
    # unset. Each outcome at one of the levels (comma-separated) and each consented callback request
    # is posted as a FHIR bundle or the project's JSON, signed with the secret (HMAC-SHA256).
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_format: Literal["fhir", "json"] = "fhir"
    webhook_levels: str = "emergency,urgent"
    webhook_timeout_seconds: float = 10.0
    # Retries: the wait doubles from the first to the longest; after max_attempts the message is
    # kept as failed for staff to see (and retry) in the console.
    webhook_max_attempts: int = 20
    webhook_retry_first_seconds: float = 5.0
    webhook_retry_max_seconds: float = 900.0
    # The storage CLI: a new admin's password (else asked on the terminal), and who ran it.
    admin_password: str | None = None
    user: str = Field("unknown", env="USER")

    @property
    def webhook_level_set(self) -> Tuple[str, ...]:
        return tuple(level.strip() for level in self.webhook_levels.split(",") if level.strip())

    @property
    def allowed_socket_origins(self) -> Tuple[str, ...]:
        return tuple(origin.strip().rstrip("/") for origin in self.socket_origins.split(",") if origin.strip())


class ToolSettings(_FromEnvironment):
    """What the dependency audit, the benchmarks and the test helpers read; no process of the
    product does, so none of it is in Settings."""
    # scripts/audit.py: no vulnerability data reachable is a warning, not a failure (`make test`).
    audit_allow_offline: bool = False
    # benchmarks/rasa_latency.py: the Redis database its bots share (flushed of their keys after).
    bench_redis_url: str = "redis://127.0.0.1:6379/12"
    # testing/synthetic.py: a PostgreSQL account that may create and drop throwaway databases.
    test_postgres_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    # testing/servers.py: the RabbitMQ the tests' bots publish their wake-ups to.
    test_rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"


def _local_secret_key() -> str:
    """For local use without CLINIC_SECRET_KEY: one random key kept in var/ (mode 0600), so staff
    sessions survive a restart and the audit log's conversation hashes stay keyed and stable."""
    path = VAR_DIR / "secret-key"
    try:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as key_file:
        key_file.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def contact_details() -> dict[str, str]:
    """The numbers and names every message to a patient fills in (knowledge/messages.py)."""
    settings = get_settings()
    return {"emergency_number": settings.emergency_number, "urgent_number": settings.urgent_number,
            "clinic_phone": settings.clinic_phone, "clinic_hours": settings.clinic_hours,
            "clinic_name": settings.clinic_name}


def with_secret_key(settings: Settings) -> Settings:
    """The settings with a key to sign and hash with: CLINIC_SECRET_KEY, or for local use the
    machine's key in var/ (made on first use). Only the processes that need a key call this:
    Settings() is built on every bot message."""
    return settings if settings.secret_key else settings.copy(update={"secret_key": _local_secret_key()})


def get_settings() -> Settings:
    """Read the environment now (tests change it between cases)."""
    return Settings()
