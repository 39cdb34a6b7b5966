"""Browser helpers for console tests (also for the end-to-end REST test added with the bot).

Typical use, with the fixtures of tests/console/conftest.py:

    log_in(browser, live_server, ADMIN_EMAIL, PASSWORD)
    open_conversation(browser, live_server, sender_id)
    assert "emergency" in outcome_text(browser)
"""
from __future__ import annotations

import re
import tempfile
from urllib.parse import quote, unquote

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from storage.db import session_factory
from storage.models import AuditEntry
from testing.console import csrf_token_in, log_in_test_client  # noqa: F401  (re-exported for the console tests)
from webapp.console import sender_from_token

# Staff the console fixtures create before each test.
PASSWORD = "calf-stretch-every-morning"
ADMIN_EMAIL = "admin@clinic.example"
CLINICIAN_EMAIL = "clinician@clinic.example"

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 10
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1280,1000")


def chromium_driver(profile_dir: str | None = None) -> WebDriver:
    """Debian's headless Chromium through Debian's chromedriver, with a fresh profile."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile_dir = profile_dir or tempfile.mkdtemp(prefix="clinic-chromium-")
    options.add_argument(f"--user-data-dir={profile_dir}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def wait_for(driver: WebDriver, css: str):
    return WebDriverWait(driver, WAIT_SECONDS).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def log_in(driver: WebDriver, base_url: str, email: str, password: str,
           next_path: str = "/staff/") -> None:
    driver.get(f"{base_url}/staff/login?next={quote(next_path)}")
    wait_for(driver, "#login-form")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: "/staff/login" not in d.current_url)


SECRET_KEY = "console-test-secret"  # the console's key in these tests (conftest.py)


LINK = re.compile(r'href="/staff/conversations/([^"]+)"')


def client_for(app, email: str = CLINICIAN_EMAIL):
    """A Flask test client signed in as `email`, and a CSRF token for its forms."""
    client = app.test_client()
    response, token = log_in_test_client(client, email, PASSWORD)
    assert response.status_code == 302
    return client, token


def linked(html: str) -> list[str]:
    """The conversations a page links to (links carry encrypted references)."""
    return [sender_from_token(token, SECRET_KEY) for token in LINK.findall(html)]


def audit_entries(engine, action: str | None = None) -> list[AuditEntry]:
    with session_factory(engine)() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return session.execute(query).scalars().all()


def conversation_url(base_url: str, sender_id: str) -> str:
    """The URL of a conversation typed by hand (the console's own links are encrypted)."""
    return f"{base_url}/staff/conversations/{quote(sender_id, safe='')}"


def sender_of_link(href: str) -> str:
    """The conversation a console link points to."""
    return sender_from_token(unquote(href.rsplit("/staff/conversations/", 1)[1]), SECRET_KEY)


def open_conversation(driver: WebDriver, base_url: str, sender_id: str) -> None:
    """Load one conversation's page (the browser must be logged in)."""
    driver.get(conversation_url(base_url, sender_id))
    wait_for(driver, "#transcript")


def transcript_texts(driver: WebDriver) -> list[tuple[str, str]]:
    """(speaker, text) for each turn of the open conversation page."""
    return [(turn.find_element(By.CSS_SELECTOR, ".who").text,
             turn.find_element(By.CSS_SELECTOR, ".text").text)
            for turn in driver.find_elements(By.CSS_SELECTOR, "#transcript li.turn")]


def outcome_text(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "outcomes").text


def session_cookies(driver: WebDriver) -> dict[str, str]:
    """The browser's cookies, to replay its session from `requests`."""
    return {cookie["name"]: cookie["value"] for cookie in driver.get_cookies()}


def replay_session(driver: WebDriver, base_url: str, page: str = "/staff/"
                   ) -> tuple[requests.Session, str | None]:
    """A requests session carrying the browser's login, and the CSRF token found on `page`."""
    http = requests.Session()
    http.cookies.update(session_cookies(driver))
    response = http.get(base_url + page)
    return http, csrf_token_in(response.text) if response.ok else None


