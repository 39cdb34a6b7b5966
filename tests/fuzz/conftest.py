"""One hostile-input bot for tests/fuzz: the action server (actions/server.py, shared token) and
Rasa with every channel enabled on fake secrets, the platforms' APIs faked locally, the staff
console (web app) on the same database; all logging at INFO into one directory."""
from __future__ import annotations

import pytest

from testing.fuzz.stack import FakePlatformAPI, hostile_env, start_hostile_stack
from testing.servers import MODEL
from testing.synthetic import temporary_database


@pytest.fixture(scope="session")
def platform_api():
    with FakePlatformAPI() as api:
        yield api


@pytest.fixture(scope="session")
def hostile(platform_api, tmp_path_factory):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train` (make test does it)")
    with temporary_database("clinic_fuzz") as url:
        stack = start_hostile_stack(tmp_path_factory.mktemp("fuzz-logs"), hostile_env(url, platform_api.url))
        stack.database_url = url
        try:
            yield stack
        finally:
            stack.stop()
