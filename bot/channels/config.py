"""Channel limits, from the one settings object (clinic/settings.py; docs/channels.md)."""
from __future__ import annotations

from dataclasses import dataclass

from clinic.settings import get_settings


@dataclass(frozen=True)
class ChannelLimits:
    max_body_bytes: int
    max_message_chars: int
    sender_per_minute: int
    sender_burst: int
    ip_per_minute: int
    ip_burst: int
    socket_origins: tuple[str, ...]
    redis_url: str
    redis_key_prefix: str


def get_limits() -> ChannelLimits:
    """Read the settings now (channels call this when they build their routes)."""
    settings = get_settings()
    return ChannelLimits(
        max_body_bytes=settings.max_body_bytes, max_message_chars=settings.max_message_chars,
        sender_per_minute=settings.rate_limit_per_minute, sender_burst=settings.rate_limit_burst,
        ip_per_minute=settings.rate_limit_ip_per_minute, ip_burst=settings.rate_limit_ip_burst,
        socket_origins=settings.allowed_socket_origins, redis_url=settings.redis_url,
        redis_key_prefix=settings.rate_limit_prefix)
