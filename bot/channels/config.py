"""Channel limits read from the environment (see the channels section of README.md)."""
from __future__ import annotations

from dataclasses import dataclass, field

from clinic.settings import _env, _env_int, get_settings


@dataclass(frozen=True)
class ChannelLimits:
    # Bodies above this get 413 from the channel; SANIC_REQUEST_MAX_SIZE caps every route.
    max_body_bytes: int = field(
        default_factory=lambda: _env_int("CLINIC_MAX_BODY_BYTES", 64 * 1024))
    max_message_chars: int = field(
        default_factory=lambda: _env_int("CLINIC_MAX_MESSAGE_CHARS", 20000))
    # Token buckets: steady rate per minute and burst size; a rate of 0 disables the rule.
    sender_per_minute: int = field(
        default_factory=lambda: _env_int("CLINIC_RATE_LIMIT_PER_MINUTE", 30))
    sender_burst: int = field(default_factory=lambda: _env_int("CLINIC_RATE_LIMIT_BURST", 10))
    ip_per_minute: int = field(
        default_factory=lambda: _env_int("CLINIC_RATE_LIMIT_IP_PER_MINUTE", 300))
    ip_burst: int = field(default_factory=lambda: _env_int("CLINIC_RATE_LIMIT_IP_BURST", 100))
    # Browser origins allowed to open the widget's socket (comma-separated, e.g.
    # "https://clinic.example"); unset = no Origin check (development).
    socket_origins: tuple[str, ...] = field(default_factory=lambda: tuple(
        origin.strip().rstrip("/") for origin in _env("CLINIC_SOCKET_ORIGINS").split(",") if origin.strip()))
    redis_url: str = field(default_factory=lambda: get_settings().redis_url)
    redis_key_prefix: str = field(
        default_factory=lambda: _env("CLINIC_RATE_LIMIT_PREFIX", "clinic:ratelimit:"))


def get_limits() -> ChannelLimits:
    """Read the environment now (channels call this when they build their routes)."""
    return ChannelLimits()
