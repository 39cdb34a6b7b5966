"""Per-sender and per-address rate limits on the ``limits`` library, in Redis when configured
(shared by replicas), else in this process's memory.

A rule of R messages a minute with a burst of B is a moving window of B messages in B/R minutes:
B at once, then R a minute on average. When Redis cannot be reached the limiter counts in memory
(bot/redis_fallback.py: one warning, Redis again after 30 s). A request is never failed because
of the limiter. Identities are hashed, so Redis holds no phone numbers or addresses.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from dataclasses import dataclass
from typing import Optional

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

from bot.redis_fallback import TIMEOUT_SECONDS, RedisFallback
from clinic.settings import Settings

logger = logging.getLogger(__name__)

MAX_MEMORY_KEYS = 50_000


@dataclass(frozen=True)
class Rule:
    name: str
    per_minute: int
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def item(self, namespace: str) -> RateLimitItem:
        burst = max(1, self.burst)
        window_seconds = max(1, math.ceil(burst * 60 / self.per_minute))
        return RateLimitItemPerSecond(burst, window_seconds, namespace=f"{namespace}{self.name}")


NOTICE_RULE = Rule("notice", per_minute=1, burst=1)


class RateLimiter:
    def __init__(self, settings: Settings, channel: str) -> None:
        self.sender_rule = Rule("sender", settings.rate_limit_per_minute, settings.rate_limit_burst)
        self.ip_rule = Rule("ip", settings.rate_limit_ip_per_minute, settings.rate_limit_ip_burst)
        self.redis_url = settings.redis_url
        self.namespace = f"{settings.rate_limit_prefix}{channel}:"
        self.fallback = RedisFallback("Rate limits", bool(settings.redis_url), logger)
        self._memory_storage = MemoryStorage()
        self._memory = MovingWindowRateLimiter(self._memory_storage)
        self._redis_storage: Optional[RedisStorage] = None
        self._redis: Optional[MovingWindowRateLimiter] = None

    async def notice_due(self, sender_id: str) -> bool:
        """Whether a limited sender should be told (once a minute at most: a notice on SMS costs
        money, and a flood must not turn into a flood of notices)."""
        return await self._hit(NOTICE_RULE, sender_id)

    async def allow(self, sender_id: str, ip: str) -> bool:
        """Count one message against the sender's limit and the address's."""
        if not await self._hit(self.sender_rule, sender_id):
            return False
        return not ip or await self._hit(self.ip_rule, ip)

    async def _hit(self, rule: Rule, identity: str) -> bool:
        if not rule.enabled:
            return True
        item = rule.item(self.namespace)
        digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        # redis-py is synchronous: its round trip runs off the event loop.
        return await self.fallback.acall(
            lambda: asyncio.to_thread(self._redis_limiter().hit, item, digest),
            lambda: self._hit_in_memory(item, digest))

    def _redis_limiter(self) -> MovingWindowRateLimiter:
        if self._redis is None:
            self._redis_storage = RedisStorage(self.redis_url, socket_connect_timeout=TIMEOUT_SECONDS,
                                               socket_timeout=TIMEOUT_SECONDS)
            self._redis = MovingWindowRateLimiter(self._redis_storage)
        return self._redis

    def _hit_in_memory(self, item: RateLimitItem, digest: str) -> bool:
        allowed = self._memory.hit(item, digest)
        events = self._memory_storage.events  # the library keeps a key once its window is empty
        if len(events) > MAX_MEMORY_KEYS:
            for key in [key for key, entries in events.items() if not entries]:
                events.pop(key, None)
        return allowed

    async def close(self) -> None:
        if self._redis_storage is not None:
            self._redis_storage.storage.close()
            self._redis_storage = self._redis = None
        self._memory_storage.timer.cancel()
