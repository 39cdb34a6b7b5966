"""The web app's security headers, on every kind of response (no browser; the widget itself runs
under this CSP in tests/web/test_widget.py, which fails on any CSP violation)."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from clinic.settings import get_settings
from webapp import create_app

RASA = "https://chat.clinic.example"


@pytest.fixture
def settings(tmp_path):
    return get_settings().copy(update=dict(database_url=f"sqlite:///{tmp_path / 'clinic.db'}",
                               secret_key="headers-test-secret", rasa_public_url=RASA, behind_tls=False))


def responses(app):
    client = app.test_client()
    return {
        "page": client.get("/"),
        "asset": client.get("/assets/widget.js"),
        "missing": client.get("/no-such-page"),
        "login": client.get("/staff/login"),
        "console-redirect": client.get("/staff/"),
        "console-post": client.post("/staff/review"),
        "console-asset": client.get("/staff/static/console.css"),
        "console-missing": client.get("/staff/static/nope.css"),
    }


def csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def test_every_response_has_the_headers_and_console_responses_are_never_stored(settings):
    for name, response in responses(create_app(settings)).items():
        headers = response.headers
        assert headers["X-Frame-Options"] == "DENY", name
        assert csp(response)["frame-ancestors"] == ["'none'"], name
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["Referrer-Policy"] == "same-origin", name
        assert "Strict-Transport-Security" not in headers, name
        if name.startswith(("login", "console")):
            assert headers["Cache-Control"] == "no-store", name
        else:
            assert headers.get("Cache-Control") != "no-store", name


def test_behind_tls_every_response_has_hsts(settings):
    app = create_app(settings.copy(update=dict(behind_tls=True)))
    for name, response in responses(app).items():
        assert re.fullmatch(r"max-age=\d{8,}; includeSubDomains", response.headers["Strict-Transport-Security"]), name


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self.handlers: list[str] = []
        self.rasa_url = ""
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [attrs[a] for a in ("src", "href") if attrs.get(a) and tag in ("script", "link", "img")]
        self._in_script = tag == "script" and not attrs.get("src")
        self.inline_styles += tag == "style" or "style" in attrs
        self.handlers += [a for a in attrs if a.startswith("on")]
        self.rasa_url = attrs.get("data-rasa-url") or self.rasa_url

    def handle_data(self, data):
        self.inline_scripts += self._in_script and bool(data.strip())

    def handle_endtag(self, tag):
        self._in_script = False


def test_the_csp_allows_what_the_widget_page_loads_and_nothing_inline(settings):
    response = create_app(settings).test_client().get("/")
    policy = csp(response)
    page = _Page()
    page.feed(response.get_data(as_text=True))
    assert page.inline_scripts == 0 and page.inline_styles == 0 and page.handlers == []
    assert page.urls and all(not urlsplit(url).netloc and url.startswith("/") for url in page.urls), page.urls
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    # the widget's socket: polling over https and the websocket over wss, to Rasa only
    assert page.rasa_url == RASA
    assert set(policy["connect-src"]) == {"'self'", RASA, "wss://chat.clinic.example"}
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"]
