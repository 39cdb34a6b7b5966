"""The staff console in a real headless Chromium (Debian's chromium and chromedriver)."""
import time

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select

from storage.db import session_factory
from storage.models import AuditEntry, Conversation, Event, Review
from testing import synthetic
from tests.console.helpers import (
    ADMIN_EMAIL,
    CLINICIAN_EMAIL,
    PASSWORD,
    conversation_url,
    log_in,
    open_conversation,
    outcome_text,
    replay_session,
    transcript_texts,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]


@pytest.fixture
def two_conversations(seed):
    now = time.time()
    seed("ce-0001", synthetic.cauda_equina_conversation(
        now - 900, first_message="my back hurts and I'm Sarah, call 07700 900123"))
    seed("cramp-0002", synthetic.calf_cramp_conversation(now - 60))


def list_previews(browser):
    return [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#conversations a.open")]


def actions_of(engine, action):
    with session_factory(engine)() as session:
        return session.execute(select(AuditEntry).where(AuditEntry.action == action)
                               ).scalars().all()


def test_login_then_filter_the_list_by_level(browser, live_server, two_conversations):
    log_in(browser, live_server, CLINICIAN_EMAIL, PASSWORD)
    wait_for(browser, "#conversations")
    # Emergency first although the cramp conversation is newer.
    assert list_previews(browser) == ["my back hurts and I'm [name], call [phone]",
                                      "my calves cramp at night"]

    Select(browser.find_element(By.ID, "filter-level")).select_by_value("self_care")
    old_table = browser.find_element(By.ID, "conversations")
    browser.find_element(By.ID, "apply-filters").click()
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(old_table))  # the filtered page
    wait_for(browser, "#conversations")

    assert "level=self_care" in browser.current_url
    assert list_previews(browser) == ["my calves cramp at night"]


def test_open_a_transcript_with_the_chosen_button_findings_and_outcome(
        browser, live_server, two_conversations, engine):
    log_in(browser, live_server, CLINICIAN_EMAIL, PASSWORD)
    browser.find_element(By.LINK_TEXT, "my back hurts and I'm [name], call [phone]").click()
    wait_for(browser, "#transcript")

    assert transcript_texts(browser) == [
        ("Patient", "my back hurts and I'm [name], call [phone]"),
        ("Bot", "Have you noticed numbness around your bottom or genitals?"),
        ("Patient", "Yes button"),
        ("Bot", "Please call 999 or go to A&E now."),
    ]
    findings = browser.find_element(By.ID, "findings").text
    assert "saddle numbness" in findings and "present" in findings
    outcome = outcome_text(browser)
    assert "cauda_equina.saddle_or_sphincter" in outcome and "NICE CKS Sciatica" in outcome
    assert "07700" not in browser.page_source
    assert [entry.actor for entry in actions_of(engine, "view")] == [CLINICIAN_EMAIL]


def test_mark_reviewed_with_a_note_and_a_follow_up_flag(
        browser, live_server, two_conversations, engine):
    log_in(browser, live_server, CLINICIAN_EMAIL, PASSWORD)
    open_conversation(browser, live_server, "cramp-0002")
    browser.find_element(By.ID, "review-note").send_keys("Stretching advice is right.")
    browser.find_element(By.ID, "mark-reviewed").click()
    wait_for(browser, ".flash")

    assert browser.find_element(By.CSS_SELECTOR, ".flash").text == "Marked reviewed."
    assert browser.find_element(By.ID, "review-status").text == "reviewed"
    with session_factory(engine)() as session:
        review = session.execute(select(Review)).scalar_one()
    assert (review.conversation_id, review.reviewer, review.note, review.follow_up) == (
        "cramp-0002", CLINICIAN_EMAIL, "Stretching advice is right.", False)

    open_conversation(browser, live_server, "ce-0001")
    browser.find_element(By.ID, "follow-up").click()
    browser.find_element(By.ID, "mark-reviewed").click()
    wait_for(browser, ".flash")
    assert browser.find_element(By.ID, "review-status").text == "follow up"


def test_hostile_patient_text_shows_as_text_and_runs_nothing(browser, live_server, seed):
    now = time.time()
    seed("xss-1", [synthetic.user(now - 30, HOSTILE[0]), synthetic.bot(now - 29, "Sorry?"),
                   synthetic.user(now - 20, HOSTILE[1])])
    log_in(browser, live_server, CLINICIAN_EMAIL, PASSWORD)
    assert list_previews(browser) == [HOSTILE[0]]

    open_conversation(browser, live_server, "xss-1")
    time.sleep(0.5)     # time for an injected script or onerror handler to fire

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.accept()
    assert transcript_texts(browser) == [("Patient", HOSTILE[0]), ("Bot", "Sorry?"),
                                         ("Patient", HOSTILE[1])]
    assert browser.find_elements(By.CSS_SELECTOR, "#transcript img, #transcript script") == []


def test_a_logged_out_request_is_sent_to_the_login_page_and_back_after(
        browser, live_server, two_conversations):
    browser.get(conversation_url(live_server, "cramp-0002"))
    wait_for(browser, "#login-form")
    assert "/staff/login?next=" in browser.current_url
    assert "my calves cramp" not in browser.page_source

    browser.find_element(By.ID, "email").send_keys(CLINICIAN_EMAIL)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "sign-in").click()
    wait_for(browser, "#transcript")
    assert browser.current_url == conversation_url(live_server, "cramp-0002")


def test_a_form_post_without_the_csrf_token_is_rejected(
        browser, live_server, two_conversations, engine):
    log_in(browser, live_server, CLINICIAN_EMAIL, PASSWORD)
    http, token = replay_session(browser, live_server)

    forged = http.post(f"{live_server}/staff/review",
                       data={"conversation_id": "cramp-0002", "status": "reviewed"},
                       allow_redirects=False)
    assert forged.status_code == 400
    assert "CSRF" in forged.text
    with session_factory(engine)() as session:
        assert session.get(Conversation, "cramp-0002").review_status == "new"

    genuine = http.post(f"{live_server}/staff/review",
                        data={"conversation_id": "cramp-0002", "status": "reviewed",
                              "csrf_token": token}, allow_redirects=False)
    assert genuine.status_code == 302


def test_a_clinician_cannot_reveal_or_erase(browser, live_server, two_conversations, engine):
    log_in(browser, live_server, CLINICIAN_EMAIL, PASSWORD)
    open_conversation(browser, live_server, "ce-0001")
    assert browser.find_elements(By.ID, "reveal") == []
    assert browser.find_elements(By.ID, "erase") == []

    http, token = replay_session(browser, live_server)
    for path in ("/staff/reveal", "/staff/erase"):
        response = http.post(live_server + path, data={
            "conversation_id": "ce-0001", "confirm": "yes", "csrf_token": token})
        assert response.status_code == 403, path
        assert "07700 900123" not in response.text
    with session_factory(engine)() as session:
        assert session.get(Conversation, "ce-0001") is not None
    assert actions_of(engine, "reveal") == [] and actions_of(engine, "erase") == []


def test_an_admin_can_reveal_and_then_erase(browser, live_server, two_conversations, engine):
    log_in(browser, live_server, ADMIN_EMAIL, PASSWORD)
    open_conversation(browser, live_server, "ce-0001")
    assert "[phone]" in transcript_texts(browser)[0][1]

    browser.find_element(By.ID, "reveal").click()
    wait_for(browser, ".revealed")
    assert transcript_texts(browser)[0] == (
        "Patient", "my back hurts and I'm Sarah, call 07700 900123")
    assert [e.actor for e in actions_of(engine, "reveal")] == [ADMIN_EMAIL]

    browser.find_element(By.ID, "erase-confirm").click()
    browser.find_element(By.ID, "erase").click()
    wait_for(browser, ".flash")
    assert "erased" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert list_previews(browser) == ["my calves cramp at night"]
    with session_factory(engine)() as session:
        assert session.execute(select(Event).where(Event.sender_id == "ce-0001")).first() is None
        assert session.get(Conversation, "ce-0001") is None
    assert [e.actor for e in actions_of(engine, "erase")] == [ADMIN_EMAIL]


def test_an_admin_sees_a_failed_delivery_from_the_menu_and_retries_it(browser, live_server,
                                                                       two_conversations, engine):
    from datetime import datetime, timezone

    from sqlalchemy import update

    from storage.models import OutboxMessage
    from storage.outbox import OutboxPolicy
    from storage.repository import Repository

    Repository(engine, outbox=OutboxPolicy(("emergency",))).record_outcome(
        conversation_id="ce-0001", level="emergency", red_flags=["cauda_equina"],
        rules=["cauda_equina.saddle_or_sphincter"], protocol_version="2026.11.0", plan=[],
        reason="Saddle numbness.", findings={}, channel="rest",
        created_at=datetime.now(timezone.utc), event_key="user@77", sources=[])
    with session_factory(engine)() as session, session.begin():
        session.execute(update(OutboxMessage).values(status="failed", attempts=20,
                                                     last_error="no answer: ConnectionError"))

    log_in(browser, live_server, ADMIN_EMAIL, PASSWORD)
    link = wait_for(browser, "#deliveries-link")
    assert "1 failed" in link.text
    link.click()
    row = wait_for(browser, "#deliveries tbody tr")
    assert "no answer: ConnectionError" in row.text and "emergency" in row.text
    row.find_element(By.CSS_SELECTOR, "button").click()
    wait_for(browser, ".flash")
    assert "1 failed delivery put back in line" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert "failed" not in browser.find_element(By.ID, "deliveries-link").text
    with session_factory(engine)() as session:
        assert session.execute(select(OutboxMessage.status)).scalars().all() == ["pending"]
