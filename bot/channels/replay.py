"""Webhook replay protection: each platform message id (Slack event_id, Telegram update_id,
Messenger mid, Twilio MessageSid) is remembered for CLINIC_WEBHOOK_REPLAY_HOURS, in Redis when
configured (shared by replicas), else in this process's memory. A signed request seen before is
answered 200 and runs no turn: a platform's retry, or a captured request sent again, cannot
answer for the patient twice.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from typing import Any, Optional

from bot.redis_fallback import TIMEOUT_SECONDS, RedisFallback
from clinic.settings import get_settings

logger = logging.getLogger(__name__)

MAX_MEMORY_IDS = 100_000


class ReplayGuard:
    def __init__(self, channel: str) -> None:
        settings = get_settings()
        self.channel = channel
        self.window_seconds = max(1, settings.webhook_replay_hours * 3600)
        self.redis_url = settings.redis_url
        self.prefix = f"{settings.webhook_replay_prefix}{channel}:"
        self.fallback = RedisFallback("Replay guard", bool(self.redis_url), logger)
        self._memory: "OrderedDict[str, float]" = OrderedDict()  # key → when it expires
        self._redis: Any = None

    async def first_time(self, message_id: Optional[str]) -> bool:
        """Record the id; False when it was already recorded (a replay). A message without an id
        cannot be checked and counts as new."""
        if not message_id:
            return True
        digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        key = f"{self.prefix}{digest}"
        first = await self.fallback.acall(lambda: self._record_in_redis(key),
                                          lambda: self._record_in_memory(key))
        if not first:
            logger.warning("%s: a webhook delivery seen before was answered without a turn",
                           self.channel)
        return first

    async def _record_in_redis(self, key: str) -> bool:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.redis_url, socket_connect_timeout=TIMEOUT_SECONDS,
                                               socket_timeout=TIMEOUT_SECONDS)
        stored = await asyncio.to_thread(self._redis.set, key, b"1", nx=True, ex=self.window_seconds)
        return bool(stored)

    def _record_in_memory(self, key: str) -> bool:
        now = time.monotonic()
        while self._memory and next(iter(self._memory.values())) <= now:
            self._memory.popitem(last=False)  # the oldest first: they expire in order
        if key in self._memory:
            return False
        self._memory[key] = now + self.window_seconds
        while len(self._memory) > MAX_MEMORY_IDS:
            self._memory.popitem(last=False)
        return True

    async def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None
