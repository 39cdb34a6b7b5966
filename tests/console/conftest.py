"""Console fixtures: a fresh PostgreSQL database, the app served by waitress on a free port, staff
users, a headless Chromium, and seeding of realistic Rasa event rows.

The same pieces serve the real bot's database (tests/conftest.py's `bot_database`) for
test_live_bot.py: `bot_console` is the console on that database, with the same staff but no
emptying (the bot and other tests share it), and `bot_console_browser` its logged-out browser.
"""
import contextlib
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from waitress import create_server

from clinic.settings import get_settings
from storage import projector
from storage.db import get_engine, session_factory
from storage.models import StaffUser, utcnow
from storage.passwords import hash_password
from storage.repository import Repository
from testing import synthetic
from tests.console.helpers import ADMIN_EMAIL, CLINICIAN_EMAIL, PASSWORD, SECRET_KEY, chromium_driver
from webapp import create_app

STAFF = ((ADMIN_EMAIL, "admin"), (CLINICIAN_EMAIL, "clinician"))


# --- building blocks, for any database ------------------------------------------------------

def console_settings(database_url: str):
    return get_settings().copy(update=dict(database_url=database_url, secret_key=SECRET_KEY,
                               clinic_timezone="Europe/London", behind_tls=False,
                               rasa_public_url="http://localhost:5005"))


def console_app(settings):
    app = create_app(settings)
    app.config["CONSOLE_OPTIONS_TTL"] = 0    # filter menus see each test's data at once
    return app


@contextlib.contextmanager
def serving(app):
    """The app served by waitress in a background thread; yields its base URL."""
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=5)


def add_staff(engine, password_hash: str) -> None:
    """The admin and the clinician, unless they are there already."""
    with session_factory(engine)() as session, session.begin():
        present = set(session.execute(select(StaffUser.email)).scalars())
        for email, role in STAFF:
            if email not in present:
                session.add(StaffUser(email=email, password_hash=password_hash, role=role,
                                      active=True, created_at=utcnow(), session_epoch=0))


def logged_out(driver, base_url: str):
    driver.get(f"{base_url}/staff/login")
    driver.delete_all_cookies()
    return driver


# --- the console's own test database ----------------------------------------------------------

@pytest.fixture(scope="session")
def pg_url():
    with synthetic.temporary_database("clinic_console_test") as url:
        yield url


@pytest.fixture(scope="session")
def rasa_tracker_store_endpoint(pg_url):
    """The `tracker_store:` section of Rasa's endpoints.yml for the console's test database."""
    url = make_url(pg_url)
    return {"type": "SQL", "dialect": "postgresql", "url": url.host, "port": url.port or 5432,
            "db": url.database, "username": url.username, "password": url.password or ""}


@pytest.fixture(scope="session")
def settings(pg_url):
    return console_settings(pg_url)


@pytest.fixture(scope="session")
def app(settings):
    return console_app(settings)


@pytest.fixture(scope="session")
def live_server(app):
    with serving(app) as url:
        yield url


@pytest.fixture(scope="session")
def password_hash():
    return hash_password(PASSWORD)


@pytest.fixture
def engine(pg_url, password_hash):
    """An empty database with one admin and one clinician, before each test."""
    engine = get_engine(pg_url)
    synthetic.empty_all_tables(engine)
    add_staff(engine, password_hash)
    return engine


@pytest.fixture
def repository(engine):
    return Repository(engine)


@pytest.fixture
def seed(engine):
    """seed(sender_id, events): store Rasa event rows and project them."""
    def seed_events(sender_id, events):
        synthetic.store_events(engine, sender_id, events)
        projector.catch_up(engine)
    return seed_events


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    driver = chromium_driver(str(tmp_path_factory.mktemp("chromium-profile")))
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium, live_server, engine):
    """The shared headless Chromium, logged out."""
    return logged_out(chromium, live_server)


# --- the real bot's database (tests/conftest.py: `bot`, `bot_database`) -----------------------

@pytest.fixture(scope="session")
def bot_console(bot_database, password_hash):
    """The console on the bot's own database; yields its base URL. Never emptied."""
    add_staff(get_engine(bot_database), password_hash)
    with serving(console_app(console_settings(bot_database))) as url:
        yield url


@pytest.fixture
def bot_console_browser(chromium, bot_console):
    """The shared headless Chromium, logged out of the bot's console."""
    return logged_out(chromium, bot_console)
