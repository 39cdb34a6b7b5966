"""Console fixtures: a fresh PostgreSQL database, the app served by waitress on a free port, staff
users, a headless Chromium, and seeding of realistic Rasa event rows.

Hook for the end-to-end test with the real bot ("a conversation held over REST appears in the
console with its outcome"): start Rasa with `rasa_tracker_store_endpoint` as the `tracker_store:`
section of its endpoints.yml (and the action server with CLINIC_DATABASE_URL=pg_url), after the
`engine` fixture has emptied the database; hold the conversation over REST; then
`log_in(browser, live_server, ADMIN_EMAIL, PASSWORD)`, `open_conversation(browser, live_server,
sender_id)` and check `outcome_text(browser)` (tests/console/helpers.py).
"""
import dataclasses
import threading

import pytest
from sqlalchemy.engine import make_url
from waitress import create_server

from clinic.settings import get_settings
from storage import projector, synthetic
from storage.db import get_engine, session_factory
from storage.models import StaffUser, utcnow
from storage.passwords import hash_password
from storage.repository import Repository
from tests.console.helpers import ADMIN_EMAIL, CLINICIAN_EMAIL, PASSWORD, chromium_driver
from webapp import create_app

SECRET_KEY = "console-test-secret"


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
    return dataclasses.replace(get_settings(), database_url=pg_url, secret_key=SECRET_KEY,
                               clinic_timezone="Europe/London", behind_tls=False,
                               rasa_public_url="http://localhost:5005")


@pytest.fixture(scope="session")
def app(settings):
    app = create_app(settings)
    app.config["CONSOLE_OPTIONS_TTL"] = 0    # filter menus see each test's data at once
    return app


@pytest.fixture(scope="session")
def live_server(app):
    """The app served by waitress in a background thread; yields its base URL."""
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def password_hash():
    return hash_password(PASSWORD)


@pytest.fixture
def engine(pg_url, password_hash):
    """An empty database with one admin and one clinician, before each test."""
    engine = get_engine(pg_url)
    synthetic.empty_all_tables(engine)
    with session_factory(engine)() as session, session.begin():
        for email, role in ((ADMIN_EMAIL, "admin"), (CLINICIAN_EMAIL, "clinician")):
            session.add(StaffUser(email=email, password_hash=password_hash, role=role,
                                  active=True, created_at=utcnow(), session_epoch=0))
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
    chromium.get(f"{live_server}/staff/login")
    chromium.delete_all_cookies()
    return chromium

