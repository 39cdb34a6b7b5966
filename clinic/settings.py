"""Settings read from the environment, one home for every variable the services use.

docker-compose.yml, the Makefile and the tests set these same variables.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CLINIC_VAR_DIR", REPO_ROOT / "var"))


def _env(name: str, default: str = "") -> str:
    value = os.environ.get(name, "").strip()
    return value or default


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


def _env_bool(name: str, default: bool = False) -> bool:
    raw = _env(name).lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from error


@dataclass(frozen=True)
class Settings:
    # Storage: SQLite file by default, PostgreSQL when CLINIC_DATABASE_URL says so.
    database_url: str = field(default_factory=lambda: _env(
        "CLINIC_DATABASE_URL", f"sqlite:///{VAR_DIR / 'clinic.db'}"))
    # Redis: lock store and shared rate limits for several Rasa replicas; unset = in-memory.
    redis_url: str = field(default_factory=lambda: _env("CLINIC_REDIS_URL"))
    # What patients are told to call.
    emergency_number: str = field(default_factory=lambda: _env("CLINIC_EMERGENCY_NUMBER", "999"))
    urgent_number: str = field(default_factory=lambda: _env("CLINIC_URGENT_NUMBER", "111"))
    clinic_name: str = field(default_factory=lambda: _env("CLINIC_NAME", "the clinic"))
    clinic_phone: str = field(default_factory=lambda: _env("CLINIC_PHONE", "01632 960000"))
    clinic_hours: str = field(default_factory=lambda: _env(
        "CLINIC_HOURS", "Mon-Fri 08:00-18:00"))
    clinic_timezone: str = field(default_factory=lambda: _env("CLINIC_TIMEZONE", "Europe/London"))
    out_of_hours_message: str = field(default_factory=lambda: _env(
        "CLINIC_OUT_OF_HOURS_MESSAGE",
        "The clinic is closed right now, so the team will get in touch after it opens"))
    # Staff console.
    # Empty when unset; the web app and the storage CLI then use with_secret_key().
    secret_key: str = field(default_factory=lambda: _env("CLINIC_SECRET_KEY"))
    retention_days: int = field(default_factory=lambda: _env_int("CLINIC_RETENTION_DAYS", 365))
    # Conversations without consent keep no text beyond this many hours.
    unconsented_retention_hours: int = field(
        default_factory=lambda: _env_int("CLINIC_UNCONSENTED_RETENTION_HOURS", 24))
    # Where the widget finds Rasa (socket.io), as the browser sees it.
    rasa_public_url: str = field(default_factory=lambda: _env(
        "CLINIC_RASA_PUBLIC_URL", "http://localhost:5005"))
    web_port: int = field(default_factory=lambda: _env_int("CLINIC_WEB_PORT", 8000))
    # Address the web app listens on (0.0.0.0 inside a container).
    web_host: str = field(default_factory=lambda: _env("CLINIC_WEB_HOST", "127.0.0.1"))
    # Served behind a TLS-terminating proxy: Secure cookies and HSTS.
    behind_tls: bool = field(default_factory=lambda: _env_bool("CLINIC_BEHIND_TLS"))
    # Reverse proxies in front of the web app whose X-Forwarded-* headers are trusted.
    trusted_proxies: int = field(default_factory=lambda: _env_int("CLINIC_TRUSTED_PROXIES", 0))
    # Staff console sessions end after this much inactivity, and this long after login at most.
    staff_idle_minutes: int = field(
        default_factory=lambda: _env_int("CLINIC_STAFF_IDLE_MINUTES", 480))
    staff_max_session_hours: int = field(
        default_factory=lambda: _env_int("CLINIC_STAFF_MAX_SESSION_HOURS", 12))
    # Failed console logins per account before a lockout (per address: four times this).
    login_max_failures: int = field(
        default_factory=lambda: _env_int("CLINIC_LOGIN_MAX_FAILURES", 5))
    login_lockout_minutes: int = field(
        default_factory=lambda: _env_int("CLINIC_LOGIN_LOCKOUT_MINUTES", 15))


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
    return settings if settings.secret_key else dataclasses.replace(settings, secret_key=_local_secret_key())


def get_settings() -> Settings:
    """Read the environment now (tests change it between cases)."""
    return Settings()
