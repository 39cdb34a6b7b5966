"""Redis with a fallback, one way for every user (the lock store, the channels' rate limits and
their replay guard): Redis down → this process's memory → Redis again after RETRY_SECONDS.

The first failure logs one warning (degraded mode: each replica counts and locks on its own), the
first success after it logs the return. A caller is never failed because Redis is.
"""
from __future__ import annotations

import logging
import time
from typing import Awaitable, Callable, Optional, Tuple, Type, TypeVar

RETRY_SECONDS = 30.0
TIMEOUT_SECONDS = 0.5

T = TypeVar("T")


class RedisFallback:
    """``name`` starts the log lines ("Rate limits", "Lock store"); ``configured``: a Redis URL is
    set (without one the memory is the normal place, not a degraded one)."""

    def __init__(self, name: str, configured: bool, logger: logging.Logger,
                 errors: Tuple[Type[BaseException], ...] = (Exception,)) -> None:
        self.name = name
        self.configured = configured
        self.logger = logger
        self.errors = errors
        self._down_since: Optional[float] = None

    @property
    def mode(self) -> str:
        if not self.configured:
            return "memory"
        return "degraded" if self._down_since is not None else "redis"

    def use_redis(self) -> bool:
        if not self.configured:
            return False
        return self._down_since is None or time.monotonic() - self._down_since >= RETRY_SECONDS

    def failed(self, error: BaseException) -> None:
        if self._down_since is None:
            self.logger.warning("%s: Redis unreachable (%s); degraded to in-memory (per replica) "
                                "until it is back (degraded mode)", self.name, type(error).__name__)
        self._down_since = time.monotonic()

    def succeeded(self) -> None:
        if self._down_since is not None:
            self.logger.warning("%s: Redis is back; leaving degraded mode", self.name)
            self._down_since = None

    def call(self, on_redis: Callable[[], T], in_memory: Callable[[], T]) -> T:
        if not self.use_redis():
            return in_memory()
        try:
            result = on_redis()
        except self.errors as error:
            self.failed(error)
            return in_memory()
        self.succeeded()
        return result

    async def acall(self, on_redis: Callable[[], Awaitable[T]],
                    in_memory: Callable[[], T]) -> T:
        if not self.use_redis():
            return in_memory()
        try:
            result = await on_redis()
        except self.errors as error:  # redis errors, OSError, timeouts, a bad URL
            self.failed(error)
            return in_memory()
        self.succeeded()
        return result
