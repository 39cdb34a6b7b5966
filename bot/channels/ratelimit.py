"""Per-sender and per-IP token buckets, in Redis when configured (shared by replicas).

Degraded mode: when Redis cannot be reached the limiter logs one warning, counts in this
process's memory instead (so each replica limits on its own), and tries Redis again after
``REDIS_RETRY_SECONDS``. A request is never failed because of the limiter.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from bot.channels.config import ChannelLimits

logger = logging.getLogger(__name__)

REDIS_RETRY_SECONDS = 30.0
REDIS_TIMEOUT_SECONDS = 0.5
MAX_MEMORY_BUCKETS = 50_000

# KEYS[1] bucket; ARGV: capacity, tokens per millisecond, now in ms. Returns 1 if allowed.
TOKEN_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local last = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - last) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
return allowed
"""


@dataclass(frozen=True)
class Rule:
    name: str
    per_minute: int
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    @property
    def capacity(self) -> int:
        return max(1, self.burst)

    @property
    def tokens_per_ms(self) -> float:
        return self.per_minute / 60_000


NOTICE_RULE = Rule("notice", per_minute=1, burst=1)


class RateLimiter:
    def __init__(self, limits: ChannelLimits, channel: str) -> None:
        self.sender_rule = Rule("sender", limits.sender_per_minute, limits.sender_burst)
        self.ip_rule = Rule("ip", limits.ip_per_minute, limits.ip_burst)
        self.redis_url = limits.redis_url
        self.prefix = f"{limits.redis_key_prefix}{channel}:"
        self._redis: Any = None
        self._script: Any = None
        self._redis_down_until = 0.0
        self._memory: "OrderedDict[str, Tuple[float, float]]" = OrderedDict()

    async def notice_due(self, sender_id: str) -> bool:
        """Whether a limited sender should be told (once a minute at most: a notice on SMS costs
        money, and a flood must not turn into a flood of notices)."""
        return await self._take(NOTICE_RULE, sender_id)

    async def allow(self, sender_id: str, ip: str) -> bool:
        """Take one token from the sender's bucket and one from the IP's."""
        if not await self._take(self.sender_rule, sender_id):
            return False
        return not ip or await self._take(self.ip_rule, ip)

    async def _take(self, rule: Rule, identity: str) -> bool:
        if not rule.enabled:
            return True
        # Hashed so Redis holds no phone numbers or addresses.
        digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        key = f"{self.prefix}{rule.name}:{digest}"
        now_ms = time.time() * 1000
        allowed = await self._take_in_redis(rule, key, now_ms)
        if allowed is None:
            allowed = self._take_in_memory(rule, key, now_ms)
        return allowed

    async def _take_in_redis(self, rule: Rule, key: str, now_ms: float) -> Optional[bool]:
        """None when Redis is not configured or not reachable."""
        if not self.redis_url or time.monotonic() < self._redis_down_until:
            return None
        try:
            script = self._redis_script()
            allowed = await script(keys=[key], args=[rule.capacity, rule.tokens_per_ms, now_ms])
        except Exception as error:  # redis errors, OSError, timeouts, bad URL
            if not self._redis_down_until:
                logger.warning(
                    "Rate limits degraded to in-memory (per replica): Redis unreachable (%s)",
                    type(error).__name__)
            self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
            return None
        if self._redis_down_until:
            logger.warning("Rate limits back on Redis")
            self._redis_down_until = 0.0
        return bool(allowed)

    def _redis_script(self) -> Any:
        if self._script is None:
            import redis.asyncio

            self._redis = redis.asyncio.from_url(
                self.redis_url,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self._script = self._redis.register_script(TOKEN_BUCKET_LUA)
        return self._script

    def _take_in_memory(self, rule: Rule, key: str, now_ms: float) -> bool:
        tokens, last = self._memory.pop(key, (float(rule.capacity), now_ms))
        tokens = min(rule.capacity, tokens + max(0.0, now_ms - last) * rule.tokens_per_ms)
        allowed = tokens >= 1
        self._memory[key] = (tokens - 1 if allowed else tokens, now_ms)
        while len(self._memory) > MAX_MEMORY_BUCKETS:
            self._memory.popitem(last=False)  # the least recently seen
        return allowed

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.close(close_connection_pool=True)
            self._redis = self._script = None
