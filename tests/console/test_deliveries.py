"""The console's side of the clinic's systems: failed deliveries in sight, an admin's retry, and the
admin-only, audited, redacted-by-default FHIR export."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select, update

from storage.db import session_factory
from storage.models import OutboxMessage
from storage.outbox import OutboxPolicy
from storage.repository import Repository
from testing import synthetic
from tests.console.helpers import ADMIN_EMAIL, CLINICIAN_EMAIL, audit_entries, client_for

pytestmark = pytest.mark.postgres

SENDER = "whatsapp:+447700900471"


@pytest.fixture
def queued(engine, seed):
    seed(SENDER, synthetic.cauda_equina_conversation(time.time() - 600, channel="whatsapp"))
    repository = Repository(engine, outbox=OutboxPolicy(("emergency",)))
    repository.record_outcome(
        conversation_id=SENDER, level="emergency", red_flags=["cauda_equina"],
        rules=["cauda_equina.saddle_or_sphincter"], protocol_version="2026.11.0", plan=[],
        reason="Saddle numbness.", findings={"back_pain": "present", "saddle_numbness": "present"},
        channel="whatsapp", created_at=datetime.now(timezone.utc), event_key="user@9", sources=[])
    repository.record_handoff(conversation_id=SENDER, contact_method="phone",
                              contact_value="07700 900472", consented=True, level="emergency",
                              channel="whatsapp", created_at=datetime.now(timezone.utc))


def fail_all(engine) -> None:
    with session_factory(engine)() as session, session.begin():
        session.execute(update(OutboxMessage).values(status="failed", attempts=20,
                                                     last_error="HTTP 500"))


def test_failed_deliveries_show_in_the_menu_and_on_their_page(app, engine, queued):
    fail_all(engine)
    client, _ = client_for(app, CLINICIAN_EMAIL)
    page = client.get("/staff/").get_data(as_text=True)
    assert "(2 failed)" in page
    deliveries = client.get("/staff/deliveries").get_data(as_text=True)
    assert deliveries.count("HTTP 500") == 2 and "callback request" in deliveries
    assert "07700" not in deliveries and "+44" not in deliveries
    assert "Retry every failed delivery" not in deliveries            # clinicians only see
    assert [e.action for e in audit_entries(engine, "view_deliveries")] == ["view_deliveries"]


def test_an_admin_puts_failed_deliveries_back_in_line_and_it_is_audited(app, engine, queued):
    fail_all(engine)
    clinician, clinician_token = client_for(app, CLINICIAN_EMAIL)
    assert clinician.post("/staff/deliveries/retry",
                          data={"csrf_token": clinician_token}).status_code == 403
    admin, token = client_for(app, ADMIN_EMAIL)
    assert "Retry every failed delivery" in admin.get("/staff/deliveries").get_data(as_text=True)
    response = admin.post("/staff/deliveries/retry", data={"csrf_token": token})
    assert response.status_code == 302
    with session_factory(engine)() as session:
        statuses = session.execute(select(OutboxMessage.status, OutboxMessage.attempts)).all()
    assert statuses == [("pending", 0), ("pending", 0)]
    [entry] = audit_entries(engine, "outbox_retry")
    assert (entry.actor, entry.details) == (ADMIN_EMAIL, {"messages": 2})


def test_fhir_export_is_for_admins_audited_and_redacted_unless_asked(app, engine, queued):
    clinician, clinician_token = client_for(app, CLINICIAN_EMAIL)
    form = {"conversation_id": SENDER}
    assert clinician.post("/staff/export-fhir",
                          data={**form, "csrf_token": clinician_token}).status_code == 403
    assert "fhir-export" not in clinician.get(f"/staff/conversations/{SENDER}").get_data(as_text=True)

    admin, token = client_for(app, ADMIN_EMAIL)
    assert 'id="fhir-export"' in admin.get(f"/staff/conversations/{SENDER}").get_data(as_text=True)
    redacted = admin.post("/staff/export-fhir", data={**form, "csrf_token": token})
    assert redacted.mimetype == "application/fhir+json"
    bundle = Bundle.parse_raw(redacted.get_data())
    kinds = [entry.resource.resource_type for entry in bundle.entry]
    assert {"Patient", "Observation", "RiskAssessment", "ServiceRequest", "Task"} <= set(kinds)
    text = redacted.get_data(as_text=True)
    assert SENDER not in text and "07700" not in text and "whatsapp:ref-" in text

    full = admin.post("/staff/export-fhir", data={**form, "csrf_token": token, "unredacted": "on"})
    assert SENDER in full.get_data(as_text=True) and "07700 900472" in full.get_data(as_text=True)
    entries = audit_entries(engine, "export_fhir")
    assert [(e.actor, e.details["redacted"]) for e in entries] == [(ADMIN_EMAIL, True),
                                                                 (ADMIN_EMAIL, False)]
    assert SENDER not in json.dumps([e.details for e in entries])
