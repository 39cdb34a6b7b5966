"""The clinic page as served (no browser): content, widget configuration, CSP-safe markup."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest
from chat_scenario import CLINIC_PHONE, EMERGENCY_NUMBER, INIT_PAYLOAD


class Tags(HTMLParser):
    """Every start tag as (name, attributes), and the text inside <script> and <style>."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.html = html
        self.tags: list[tuple[str, dict]] = []
        self.inline_code: list[str] = []
        self._inside_code = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._inside_code = tag in ("script", "style")

    def handle_endtag(self, tag):
        self._inside_code = False

    def handle_data(self, data):
        if self._inside_code and data.strip():
            self.inline_code.append(data)

    def find(self, tag: str, **attrs) -> list[dict]:
        return [found for name, found in self.tags
                if name == tag and all(found.get(key) == value for key, value in attrs.items())]


@pytest.fixture(scope="module")
def site_env(fake_site) -> dict:
    """The page's configuration does not depend on the bot: the fake's copy of the site will do."""
    return fake_site.env


@pytest.fixture(scope="module")
def client(fake_site):
    return fake_site.app.test_client()


@pytest.fixture(scope="module")
def page(client) -> Tags:
    response = client.get("/")
    assert response.status_code == 200
    return Tags(response.get_data(as_text=True))


def test_page_shows_the_clinic_with_hours_and_phone(page, site_env):
    assert site_env["CLINIC_NAME"].replace("&", "&amp;") in page.html
    assert "Mon-Fri 08:00-18:00" in page.html
    tel = "tel:" + CLINIC_PHONE.replace(" ", "")
    assert page.find("a", href=tel)


def test_widget_is_configured_through_data_attributes(page, site_env):
    [widget] = page.find("aside", id="clinic-chat")
    assert widget["data-rasa-url"] == site_env["CLINIC_RASA_PUBLIC_URL"]
    assert widget["data-emergency-number"] == EMERGENCY_NUMBER
    assert widget["data-clinic-phone"] == CLINIC_PHONE
    assert widget["data-init-payload"] == INIT_PAYLOAD


def test_page_has_no_inline_script_style_or_event_handler(page):
    assert page.inline_code == []
    assert not page.find("style")
    for tag, attrs in page.tags:
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
    for script in page.find("script"):
        assert script.get("src"), "every script is a file"


def test_every_asset_comes_from_the_site_itself(page, client):
    assets = [attrs["src"] for attrs in page.find("script")]
    assets += [attrs["href"] for attrs in page.find("link")]
    assert assets
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url
        response = client.get(url)
        assert response.status_code == 200, url
        response.close()
