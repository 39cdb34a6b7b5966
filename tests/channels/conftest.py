from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # channel_harness
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from channel_harness import EMERGENCY_NUMBER, LiveServer  # noqa: E402


@pytest.fixture(autouse=True)
def channel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Known limits, no Redis and a recognisable emergency number, whatever the shell has."""
    for name in ("CLINIC_REDIS_URL", "CLINIC_MAX_BODY_BYTES", "CLINIC_MAX_MESSAGE_CHARS",
                 "CLINIC_RATE_LIMIT_BURST", "CLINIC_RATE_LIMIT_IP_BURST",
                 "CLINIC_RATE_LIMIT_PREFIX", "SANIC_REQUEST_MAX_SIZE"):
        monkeypatch.delenv(name, raising=False)
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
