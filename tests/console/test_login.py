"""Signing in: a back-off that slows guessing without locking anyone out, what the audit log keeps
of a failed attempt, and the idle timeout."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from storage.db import session_factory
from storage.models import LoginThrottle
from tests.console.helpers import (
    ADMIN_EMAIL,
    CLINICIAN_EMAIL,
    PASSWORD,
    audit_entries,
    client_for,
    csrf_token_in,
)
from tests.storage.test_retention import rows_mentioning

pytestmark = pytest.mark.postgres

CLINIC_NAT = "198.51.100.7"


class SignIn:
    """A browser at one address posting the sign-in form."""

    def __init__(self, app, address: str = CLINIC_NAT):
        self.client = app.test_client()
        self.address = address
        self.token = csrf_token_in(self.client.get("/staff/login").get_data(as_text=True))

    def __call__(self, email: str, password: str):
        return self.client.post("/staff/login", data={
            "email": email, "password": password, "csrf_token": self.token},
            environ_base={"REMOTE_ADDR": self.address})


def let_the_waits_pass(engine) -> None:
    with engine.begin() as connection:
        connection.execute(update(LoginThrottle).values(
            locked_until=datetime.now(timezone.utc) - timedelta(seconds=1)))


def test_wrong_passwords_slow_an_account_more_each_time_but_never_lock_it(app, engine):
    attempt = SignIn(app)
    assert [attempt(CLINICIAN_EMAIL, "wrong guess").status_code for _ in range(5)] == [401] * 5

    waits = []
    for _ in range(10):
        slowed = attempt(CLINICIAN_EMAIL, PASSWORD)      # even the right password waits
        assert slowed.status_code == 429 and "Wait" in slowed.get_data(as_text=True)
        waits.append(int(slowed.headers["Retry-After"]))
        let_the_waits_pass(engine)
        assert attempt(CLINICIAN_EMAIL, "wrong guess").status_code == 401
    cap = app.extensions["clinic_settings"].login_backoff_max_seconds
    assert waits == [1, 2, 4, 8, 16, 32, 64, cap, cap, cap]

    let_the_waits_pass(engine)
    assert attempt(CLINICIAN_EMAIL, PASSWORD).status_code == 302, "slowed, not locked out"
    assert len(audit_entries(engine, "login_failed")) == 15
    assert len(audit_entries(engine, "login_throttled")) == 10


def test_guessing_one_accounts_password_slows_no_colleague_behind_the_same_address(app, engine):
    attacker, colleague = SignIn(app), SignIn(app)
    for _ in range(30):
        attacker(CLINICIAN_EMAIL, "wrong guess")
        let_the_waits_pass(engine)
    assert colleague(ADMIN_EMAIL, PASSWORD).status_code == 302


def test_guessing_account_names_slows_that_address_only(app, engine):
    limit = app.extensions["clinic_settings"].login_address_max_unknown
    guesser = SignIn(app)
    for i in range(limit):
        assert guesser(f"guess{i}@clinic.example", "password").status_code == 401
    # Every attempt from there waits now, for a real account too (so a wait does not tell
    # which accounts exist); other addresses are not slowed.
    assert guesser(ADMIN_EMAIL, PASSWORD).status_code == 429
    assert SignIn(app, "203.0.113.9")(ADMIN_EMAIL, PASSWORD).status_code == 302
    let_the_waits_pass(engine)
    assert guesser(ADMIN_EMAIL, PASSWORD).status_code == 302


def test_what_was_typed_in_the_email_field_is_kept_only_as_a_keyed_hash(app, engine):
    typed = "Correct-Horse-Battery-Staple"      # a password typed in the wrong field
    attempt = SignIn(app)
    for _ in range(6):
        attempt(typed, "x")
    attempt(CLINICIAN_EMAIL, "wrong guess")

    for fragment in ("Horse", "horse"):     # the form's email is lower-cased
        assert rows_mentioning(engine, fragment) == {}, "nowhere in the database"
    failed = [entry.actor for entry in audit_entries(engine, "login_failed")]
    throttled = [entry.actor for entry in audit_entries(engine, "login_throttled")]
    assert failed[0].startswith("typed:") and set(failed[:5]) == set(throttled) == {failed[0]}, \
        "the same text gets the same reference, so repeated attempts stay visible"
    assert failed[-1] == CLINICIAN_EMAIL, "an account's own name is kept"
    assert "horse" not in json.dumps([entry.details for entry in audit_entries(engine)]).lower()


def test_a_session_idle_for_half_an_hour_ends(app, engine):
    assert app.extensions["clinic_settings"].staff_idle_minutes == 30, \
        "unless CLINIC_STAFF_IDLE_MINUTES says otherwise"
    client, _ = client_for(app)
    with client.session_transaction() as session:
        session["seen"] -= 29 * 60
    assert client.get("/staff/").status_code == 200, "29 idle minutes: still signed in"
    with client.session_transaction() as session:
        session["seen"] -= 31 * 60
    response = client.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.location


def test_a_successful_sign_in_clears_its_accounts_failures(app, engine):
    attempt = SignIn(app)
    for _ in range(4):
        attempt(CLINICIAN_EMAIL, "wrong guess")
    assert attempt(CLINICIAN_EMAIL, PASSWORD).status_code == 302
    with session_factory(engine)() as session:
        keys = session.execute(select(LoginThrottle.key)).scalars().all()
    assert keys == []
