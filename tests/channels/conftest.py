from __future__ import annotations

import contextlib
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))  # channel_harness
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from channel_harness import EMERGENCY_NUMBER, REDIS_URL, SECRET_KEY, LiveServer  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def nlp_loaded() -> None:
    """A failed turn's fallback reads the message with the NLP; loading it cold takes longer than
    the tests' request timeout on a busy machine, so it is loaded once up front."""
    from knowledge.nlp.pipeline import analyse

    analyse("warm up")


@pytest.fixture(autouse=True)
def channel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Known limits, no Redis and a recognisable emergency number, whatever the shell has."""
    for name in ("CLINIC_REDIS_URL", "CLINIC_MAX_BODY_BYTES", "CLINIC_MAX_MESSAGE_CHARS",
                 "CLINIC_RATE_LIMIT_BURST", "CLINIC_RATE_LIMIT_IP_BURST",
                 "CLINIC_RATE_LIMIT_PREFIX", "SANIC_REQUEST_MAX_SIZE", "CLINIC_REST_SERVICE_KEY",
                 "CLINIC_WEB_CONVERSATION_HOURS", "CLINIC_WEBHOOK_REPLAY_HOURS",
                 "CLINIC_WEBHOOK_REPLAY_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLINIC_SECRET_KEY", SECRET_KEY)  # signs the web conversations' tokens
    monkeypatch.setenv("CLINIC_EMERGENCY_NUMBER", EMERGENCY_NUMBER)
    monkeypatch.setenv("CLINIC_RATE_LIMIT_PER_MINUTE", "6000")
    monkeypatch.setenv("CLINIC_RATE_LIMIT_IP_PER_MINUTE", "6000")
    monkeypatch.setenv("CLINIC_RATE_LIMIT_BURST", "1000")
    monkeypatch.setenv("CLINIC_RATE_LIMIT_IP_BURST", "1000")


@pytest.fixture
def serve() -> Iterator[Callable[..., LiveServer]]:
    """serve(channel, ...) or serve(make_channels) starts a live server with those
    channels (see LiveServer); it is stopped after the test."""
    with contextlib.ExitStack() as stack:
        def start(*channels: Any) -> LiveServer:
            if len(channels) == 1 and callable(channels[0]):
                return stack.enter_context(LiveServer(channels[0]))
            return stack.enter_context(LiveServer(channels))

        yield start


@pytest.fixture
def redis_prefix(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis server at 127.0.0.1:6379")
    prefix = f"test:channels:{uuid.uuid4().hex}:"
    monkeypatch.setenv("CLINIC_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("CLINIC_RATE_LIMIT_PREFIX", prefix)
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
