"""Fixtures for the clinic page and chat widget tests: a bot, the site, and a browser.

The widget talks to whatever `rasa_socketio_url` gives: the scripted fake bot by default.
To run against the real Rasa server, override that one fixture (and align chat_scenario.py).
"""
from __future__ import annotations

import os
import sys
import threading

import pytest
from chat_scenario import CLINIC_PHONE, EMERGENCY_NUMBER
from fake_rasa import FakeRasa
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


@pytest.fixture(scope="session")
def fake_rasa():
    bot = FakeRasa()
    bot.start()
    yield bot
    bot.stop()


@pytest.fixture(scope="session")
def rasa_socketio_url(fake_rasa) -> str:
    """The socket.io server the widget talks to. Override to test against the real Rasa."""
    return fake_rasa.url


@pytest.fixture(scope="session")
def site_env(rasa_socketio_url, tmp_path_factory):
    """The settings' environment for the site under test (clinic/settings.py reads it)."""
    var_dir = tmp_path_factory.mktemp("var")
    env = {
        "CLINIC_RASA_PUBLIC_URL": rasa_socketio_url,
        "CLINIC_EMERGENCY_NUMBER": EMERGENCY_NUMBER,
        "CLINIC_PHONE": CLINIC_PHONE,
        "CLINIC_NAME": CLINIC_NAME,
        "CLINIC_DATABASE_URL": f"sqlite:///{var_dir / 'clinic.db'}",
        "CLINIC_SECRET_KEY": "web-tests-only",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield env


def content_security_policy(rasa_url: str) -> str:
    """The policy webapp/__init__.py is to send: own origin only, plus Rasa for the socket."""
    http_origin = origin(rasa_url)
    ws_origin = http_origin.replace("http", "ws", 1)
    return f"default-src 'self'; connect-src 'self' {http_origin} {ws_origin}"


def minimal_site_app() -> Flask:
    """Until webapp/__init__.py's create_app() exists: the site blueprint behind the same CSP."""
    from webapp.site import bp

    app = Flask(__name__)
    app.register_blueprint(bp, url_prefix="/")

    @app.after_request
    def add_csp(response):
        response.headers["Content-Security-Policy"] = content_security_policy(
            os.environ["CLINIC_RASA_PUBLIC_URL"])
        return response

    return app


@pytest.fixture(scope="session")
def site_app(site_env) -> Flask:
    if not VENDOR_SCRIPT.exists():
        pytest.fail("the widget's vendor files are missing: run `npm ci && npm run build` in web/")
    import webapp

    create_app = getattr(webapp, "create_app", None)  # the real app, with its security headers
    return create_app() if create_app else minimal_site_app()  # both read site_env's settings


@pytest.fixture(scope="session")
def site_url(site_app) -> str:
    server = make_server("127.0.0.1", 0, site_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="site", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def chat(site_url, tmp_path) -> ChatPage:
    """A fresh headless Chromium (new profile: empty storage) on the clinic page."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(program):
            pytest.fail(f"{program} is missing: apt-get install -y chromium chromium-driver")
    driver = start_chromium(tmp_path / "chromium-profile")
    page = ChatPage(driver, site_url)
    page.set_viewport("desktop")
    yield page.load()
    driver.quit()


@pytest.fixture
def site_origins(site_url, rasa_socketio_url) -> set[str]:
    return {origin(site_url), origin(rasa_socketio_url)}

