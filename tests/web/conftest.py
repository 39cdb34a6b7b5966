"""Fixtures for the clinic page and chat widget tests: a bot, the site, and a browser.

The widget talks to the REAL Rasa server (tests/conftest.py's session `bot`) through the page
served with CLINIC_RASA_PUBLIC_URL set to it, so the page's CSP lets the socket through:
`site` and `chat`. What only a fake bot can do (dropping connections) uses the scripted fake
(fake_rasa.py) behind a second copy of the site: `fake_site` and `fake_chat`.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass

import pytest
from chat_scenario import CLINIC_PHONE, EMERGENCY_NUMBER, OPENING
from fake_rasa import FAKE_OPENING, FakeRasa
from flask import Flask
from werkzeug.serving import make_server
from widget_page import (
    CHROMEDRIVER,
    CHROMIUM,
    REPO_ROOT,
    ChatPage,
    origin,
    start_chromium,
)

if str(REPO_ROOT) not in sys.path:  # `pytest` as well as `python -m pytest` finds webapp/
    sys.path.insert(0, str(REPO_ROOT))

VENDOR_SCRIPT = REPO_ROOT / "webapp" / "site" / "static" / "vendor" / "socket.io.min.js"
CLINIC_NAME = "Riverside Back & Calf Clinic"


@dataclass(frozen=True)
class Site:
    env: dict[str, str]  # the settings' environment it was created with (clinic/settings.py)
    app: Flask
    url: str


def create_site_app(env: dict[str, str]) -> Flask:
    """The real app (webapp.create_app, with its CSP), its settings read from `env`."""
    if not VENDOR_SCRIPT.exists():
        pytest.fail("the widget's vendor files are missing: run `npm ci && npm run build` in web/")
    from webapp import create_app

    # create_app() keeps the settings it reads, so the environment is only needed meanwhile.
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return create_app()


@contextlib.contextmanager
def serve_site(rasa_url: str, var_dir) -> Site:
    env = {
        "CLINIC_RASA_PUBLIC_URL": rasa_url,
        "CLINIC_EMERGENCY_NUMBER": EMERGENCY_NUMBER,
        "CLINIC_PHONE": CLINIC_PHONE,
        "CLINIC_NAME": CLINIC_NAME,
        "CLINIC_DATABASE_URL": f"sqlite:///{var_dir / 'clinic.db'}",
        "CLINIC_SECRET_KEY": "web-tests-only",
    }
    app = create_site_app(env)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="site", daemon=True)
    thread.start()
    try:
        yield Site(env, app, f"http://127.0.0.1:{server.server_port}/")
    finally:
        server.shutdown()
        thread.join(10)


@contextlib.contextmanager
def open_chat(site: Site, profile_dir, opening) -> ChatPage:
    """A fresh headless Chromium (new profile: empty storage) on the clinic page."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(program):
            pytest.fail(f"{program} is missing: apt-get install -y chromium chromium-driver")
    driver = start_chromium(profile_dir)
    try:
        page = ChatPage(driver, site.url, opening)
        page.set_viewport("desktop")
        yield page.load()
    finally:
        driver.quit()


# ---- the real bot ----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def rasa_socketio_url(bot) -> str:
    """The socket.io server the widget talks to: the real Rasa server."""
    return bot.url


@pytest.fixture(scope="session")
def site(rasa_socketio_url, tmp_path_factory) -> Site:
    with serve_site(rasa_socketio_url, tmp_path_factory.mktemp("var")) as served:
        yield served


@pytest.fixture
def chat(site, tmp_path) -> ChatPage:
    with open_chat(site, tmp_path / "chromium-profile", OPENING) as page:
        yield page


@pytest.fixture
def site_origins(site, rasa_socketio_url) -> set[str]:
    return {origin(site.url), origin(rasa_socketio_url)}


# ---- the fake bot ----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def fake_rasa():
    bot = FakeRasa()
    bot.start()
    yield bot
    bot.stop()


@pytest.fixture(scope="session")
def fake_site(fake_rasa, tmp_path_factory) -> Site:
    with serve_site(fake_rasa.url, tmp_path_factory.mktemp("var-fake")) as served:
        yield served


@pytest.fixture
def fake_chat(fake_site, tmp_path) -> ChatPage:
    with open_chat(fake_site, tmp_path / "chromium-profile", FAKE_OPENING) as page:
        yield page
