"""Check-ins in the console (staff only): what is scheduled and when, how it will reach the patient
with the number masked, cancelling one, and the conversation page listing its check-in."""
import time
from datetime import datetime, timedelta, timezone

import pytest

from testing import synthetic
from tests.console.helpers import CLINICIAN_EMAIL, audit_entries, client_for

pytestmark = pytest.mark.postgres

NUMBER = "+447911123456"


def schedule(repository, conversation_id, method="sms", channel="socketio", days_ago=0, presentation="low_back_pain"):
    return repository.record_follow_up(
        conversation_id=conversation_id, channel=channel, contact_method=method,
        contact_value=NUMBER if method == "sms" else "", presentation=presentation, presentations=[presentation],
        level="self_care", after_days=14, created_at=datetime.now(timezone.utc) - timedelta(days=days_ago))


def test_only_staff_see_check_ins(app, engine):
    client = app.test_client()
    response = client.get("/staff/check-ins")
    assert response.status_code == 302 and "/staff/login" in response.location
    assert client.post("/staff/check-ins/1/cancel").status_code == 401


def test_scheduled_check_ins_show_when_what_and_how_with_the_number_masked(app, engine, repository):
    schedule(repository, "web-1")
    schedule(repository, "telegram:777", "chat", "telegram", presentation="calf_strain")
    client, _ = client_for(app)
    page = client.get("/staff/check-ins").get_data(as_text=True)
    assert "low back pain" in page and "a pulled calf muscle" in page
    assert "text to +44 •••••••456" in page and "in their Telegram chat" in page
    assert NUMBER not in page and "7911123456" not in page
    assert "after 2 weeks" in page
    assert audit_entries(engine, "view_check_ins")[-1].details == {"status": "scheduled", "shown": 2}


def test_staff_cancel_a_check_in_and_its_number_is_deleted(app, engine, repository):
    check_in = schedule(repository, "web-2")
    client, token = client_for(app)
    response = client.post(f"/staff/check-ins/{check_in}/cancel", data={"csrf_token": token})
    assert response.status_code == 302
    assert "No scheduled check-ins" in client.get("/staff/check-ins").get_data(as_text=True)
    cancelled = client.get("/staff/check-ins?status=cancelled").get_data(as_text=True)
    assert f"by {CLINICIAN_EMAIL}" in cancelled and "text message" in cancelled and "•" not in cancelled
    assert audit_entries(engine, "check_in_cancel")[0].details == {"check_in": check_in, "cancelled": True}
    assert client.post(f"/staff/check-ins/{check_in}/cancel").status_code == 400   # no CSRF token


def test_the_conversation_page_lists_its_check_in(app, engine, repository, seed):
    seed("web-3", synthetic.calf_cramp_conversation(time.time() - 600))
    schedule(repository, "web-3")
    client, _ = client_for(app)
    from webapp.console import conversation_token

    with app.app_context():
        token = conversation_token("web-3")
    page = client.get(f"/staff/conversations/{token}").get_data(as_text=True)
    section = page[page.index('id="check-ins"'):page.index('id="review"')]
    assert "text to +44 •••••••456" in section and "scheduled" in section
