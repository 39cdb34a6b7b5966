"""Console behaviour over HTTP (Flask test client) on the real PostgreSQL."""
import asyncio
import csv
import io
import json
import logging
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from storage import projector, retention
from storage.db import session_factory
from storage.models import Conversation
from testing import synthetic
from tests.console.helpers import (
    ADMIN_EMAIL,
    CLINICIAN_EMAIL,
    LINK,
    PASSWORD,
    audit_entries,
    client_for,
    csrf_token_in,
    linked,
    log_in_test_client,
)
from webapp import create_app

pytestmark = pytest.mark.postgres

DAY = 86_400


def listed(client, **args):
    """The conversations the list shows for these filters (a search is posted)."""
    if args.get("q"):
        token = csrf_token_in(client.get("/staff/").get_data(as_text=True))
        return linked(client.post("/staff/", data={**args, "csrf_token": token})
                      .get_data(as_text=True))
    return linked(client.get("/staff/", query_string=args).get_data(as_text=True))


# --- security headers ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/staff/login"])
def test_every_page_carries_the_security_headers(app, engine, path):
    response = app.test_client().get(path)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "script-src 'self'" in policy
    assert "connect-src 'self' http://localhost:5005 ws://localhost:5005" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers


def test_console_pages_are_never_cached_and_the_public_page_may_be(app, engine):
    client, _ = client_for(app)
    assert client.get("/staff/").headers["Cache-Control"] == "no-store"
    assert client.get("/staff/login").headers["Cache-Control"] == "no-store"
    assert client.get("/").headers.get("Cache-Control") != "no-store"


def test_behind_tls_adds_hsts_secure_cookies_and_wss_for_the_widget(settings, engine):
    app = create_app(settings.copy(update=dict(behind_tls=True,
                                         rasa_public_url="https://chat.clinic.example")))
    client = app.test_client()
    response = client.get("/staff/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "wss://chat.clinic.example" in response.headers["Content-Security-Policy"]
    login, _ = log_in_test_client(client, CLINICIAN_EMAIL, PASSWORD)
    cookie = login.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


# --- authentication -----------------------------------------------------------------------------

def test_nothing_under_staff_without_login_but_the_login_page_and_its_css(app, engine):
    client = app.test_client()
    for path in ("/staff/", "/staff/handoffs", "/staff/audit", "/staff/conversations/x"):
        response = client.get(path)
        assert response.status_code == 302 and "/staff/login?next=" in response.location, path
    for path in ("/staff/review", "/staff/reveal", "/staff/erase", "/staff/export"):
        assert client.post(path).status_code == 401, path
    assert client.get("/staff/static/console.css").status_code == 200


def test_login_never_redirects_outside_the_console(app, engine):
    client = app.test_client()
    token = csrf_token_in(client.get("/staff/login").get_data(as_text=True))
    response = client.post("/staff/login", data={
        "email": CLINICIAN_EMAIL, "password": PASSWORD, "csrf_token": token,
        "next": "//evil.example/staff/"})
    assert response.location == "/staff/"


def test_an_idle_session_expires(app, engine):
    client, _ = client_for(app)
    with client.session_transaction() as session:
        session["seen"] -= app.extensions["clinic_settings"].staff_idle_minutes * 60 + 1
    response = client.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.location
    assert "Your session expired" in client.get(response.location).get_data(True)


def test_logout_also_ends_a_copied_session_cookie(app, engine):
    client, token = client_for(app)
    cookie = client.get_cookie("clinic_staff_session").value
    copy = app.test_client()
    copy.set_cookie("clinic_staff_session", cookie)
    assert copy.get("/staff/").status_code == 200

    client.post("/staff/logout", data={"csrf_token": token})

    assert copy.get("/staff/").status_code == 302


# --- list ---------------------------------------------------------------------------------------

def test_pages_follow_urgency_then_recency_without_gaps_or_repeats(app, engine):
    now = time.time()
    with engine.begin() as connection:
        for i in range(120):
            build = synthetic.cauda_equina_conversation if i % 4 == 0 else \
                synthetic.calf_cramp_conversation
            synthetic.insert_events(connection, f"p-{i:03d}", build(now - i * 60))
    projector.catch_up(engine)
    with session_factory(engine)() as session:
        expected = session.execute(select(Conversation.sender_id).order_by(
            Conversation.urgency_rank.desc(), Conversation.last_activity_at.desc(),
            Conversation.sender_id.desc())).scalars().all()
    assert expected[:2] == ["p-000", "p-004"]    # emergencies first, newest first

    client, _ = client_for(app)
    pages, url = [], "/staff/"
    while url:
        html = client.get(url).get_data(as_text=True)
        pages.append(linked(html))
        found = re.search(r'rel="next" href="([^"]+)"', html)
        url = found and found.group(1).replace("&amp;", "&")
    assert [len(page) for page in pages] == [50, 50, 20]
    assert sum(pages, []) == expected

    html = client.get(re.search(r'rel="next" href="([^"]+)"', client.get("/staff/").get_data(
        as_text=True)).group(1)).get_data(as_text=True)
    previous = re.search(r'rel="prev" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert linked(client.get(previous).get_data(as_text=True)) == pages[0]


def test_filters_by_red_flag_channel_status_date_and_text(app, engine, seed):
    now = time.time()
    seed("flagged", synthetic.cauda_equina_conversation(
        now - 3 * DAY, channel="socketio", first_message="I'm Sarah, my back is agony"))
    seed("reviewed", synthetic.calf_cramp_conversation(now - 3600))
    seed("telegram", synthetic.calf_cramp_conversation(
        now - 10 * DAY, channel="telegram", first_message="tingling in my left foot"))
    with engine.begin() as connection:
        connection.execute(update(Conversation).where(Conversation.sender_id == "reviewed")
                           .values(review_status="reviewed"))
    client, _ = client_for(app)
    day = (datetime.now(timezone.utc) - timedelta(days=3)).date().isoformat()

    assert listed(client) == ["flagged", "reviewed", "telegram"]
    assert listed(client, red_flag="cauda_equina") == ["flagged"]
    assert listed(client, channel="telegram") == ["telegram"]
    assert listed(client, status="reviewed") == ["reviewed"]
    assert listed(client, date_from=day, date_to=day) == ["flagged"]
    assert listed(client, q="tingling foot") == ["telegram"]
    assert listed(client, q="Sarah") == []      # names are redacted before indexing
    assert audit_entries(engine, "list")[-1].details == {"search": True}


# --- handoffs -----------------------------------------------------------------------------------

def test_the_handoff_queue_shows_consented_contacts_and_moves_them_on(app, engine, repository):
    at = datetime.now(timezone.utc)
    callback = repository.record_handoff(conversation_id="c1", contact_method="phone",
                                         contact_value="07700 900555", consented=True,
                                         level="urgent", channel="rest", created_at=at)
    repository.record_handoff(conversation_id="c2", contact_method="email",
                              contact_value="private@example.org", consented=False,
                              level="routine", channel="rest", created_at=at)
    client, token = client_for(app)

    queue = client.get("/staff/handoffs").get_data(as_text=True)
    assert "07700 900555" in queue and "private@example.org" not in queue
    assert "not consented to contact" in queue

    response = client.post(f"/staff/handoffs/{callback}/status",
                           data={"status": "contacted", "csrf_token": token})
    assert response.status_code == 302
    assert "07700 900555" not in client.get("/staff/handoffs").get_data(as_text=True)
    contacted = client.get("/staff/handoffs?status=contacted").get_data(as_text=True)
    assert "07700 900555" in contacted and f"by {CLINICIAN_EMAIL}" in contacted
    assert audit_entries(engine, "handoff_status")[0].details == {
        "handoff": callback, "status": "contacted"}


# --- exports ------------------------------------------------------------------------------------

@pytest.fixture
def exportable(seed):
    now = time.time()
    seed("exp-1", synthetic.cauda_equina_conversation(
        now - 600, first_message="=HYPERLINK(\"http://x\") call me on 07700 900123"))


def export(client, token, **form):
    return client.post("/staff/export", data={"csrf_token": token, **form})


def test_exports_are_redacted_and_spreadsheet_safe(app, engine, exportable):
    client, token = client_for(app)

    response = export(client, token, kind="transcripts", format="csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert response.mimetype == "text/csv"
    assert rows[0]["text"] == "'=HYPERLINK(\"http://x\") call me on [phone]"
    assert [r["speaker"] for r in rows] == ["patient", "bot", "patient", "bot"]

    outcomes = json.loads(export(client, token, kind="outcomes", format="json").data)
    assert outcomes["redacted"] is True
    assert [(o["level"], o["rules"]) for o in outcomes["outcomes"]] == [
        ("emergency", ["cauda_equina.saddle_or_sphincter"])]

    whole = json.loads(export(client, token, kind="transcripts", format="json",
                              conversation_id="exp-1").data)
    assert whole["conversations"][0]["transcript"][2]["text"] == "Yes"
    assert "07700" not in json.dumps(whole)


def test_only_an_admin_may_export_without_redaction_and_it_is_audited(app, engine, exportable):
    client, token = client_for(app, CLINICIAN_EMAIL)
    assert export(client, token, kind="transcripts", format="csv",
                  unredacted="on").status_code == 403

    admin, admin_token = client_for(app, ADMIN_EMAIL)
    response = export(admin, admin_token, kind="transcripts", format="csv", unredacted="on")
    assert "07700 900123" in response.get_data(as_text=True)
    [entry] = audit_entries(engine, "export")
    assert (entry.actor, entry.details["redacted"]) == (ADMIN_EMAIL, False)


def test_patient_text_never_reaches_the_logs_or_the_audit_details(app, engine, exportable,
                                                                  caplog):
    caplog.set_level(logging.DEBUG)
    client, token = client_for(app, ADMIN_EMAIL)
    listed(client, q="hyperlink")
    client.get("/staff/conversations/exp-1")
    client.post("/staff/reveal", data={"conversation_id": "exp-1", "csrf_token": token})
    export(client, token, kind="transcripts", format="json", unredacted="on").get_data()
    client.post("/staff/review", data={"conversation_id": "exp-1", "note": "rang 07700 900123",
                                       "csrf_token": token})

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "07700" not in logged and "HYPERLINK" not in logged
    details = json.dumps([entry.details for entry in audit_entries(engine)])
    assert "07700" not in details and "hyperlink" not in details.lower()
    assert {"list", "view", "reveal", "export", "review"} <= {
        entry.action for entry in audit_entries(engine)}


# --- Rasa's own writer --------------------------------------------------------------------------

def test_events_rasas_tracker_store_writes_appear_in_the_console(app, engine,
                                                                  rasa_tracker_store_endpoint):
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    store = TrackerStore.create(EndpointConfig.from_dict(rasa_tracker_store_endpoint),
                                Domain.empty())
    custom = synthetic.triage("routine", rules=["frequent_cramps.most_nights"],
                              sources=["NICE CKS Leg cramps"])
    tracker = DialogueStateTracker.from_events("rasa-rest-1", [
        SlotSet("consent", True),
        UserUttered("my calves cramp at night", input_channel="rest",
                    parse_data={"intent": {"name": "describe_symptoms", "confidence": 0.9},
                                "entities": []}),
        BotUttered("Gentle calf stretches help.", data={"custom": custom}),
    ])
    asyncio.run(store.save(tracker))
    store.engine.dispose()
    projector.catch_up(engine)      # what the projector worker does (tests/storage/test_projector_worker.py)
    client, _ = client_for(app)

    assert listed(client) == ["rasa-rest-1"]
    page = client.get("/staff/conversations/rasa-rest-1").get_data(as_text=True)
    assert "my calves cramp at night" in page and "frequent_cramps.most_nights" in page
    assert "NICE CKS Leg cramps" in page and "reconciled from the events" in page


def test_an_unconsented_conversation_past_its_hours_keeps_only_its_outcome(app, engine, seed):
    seed("no-consent", synthetic.cauda_equina_conversation(time.time() - 2 * DAY, consent=False))
    retention.purge_unconsented_text(engine, hours=24, actor="test", audit_key="k")
    client, _ = client_for(app)

    page = client.get("/staff/conversations/no-consent").get_data(as_text=True)
    assert "The text was deleted" in page and "my back hurts" not in page
    assert "cauda_equina.saddle_or_sphincter" in page
    assert "(text deleted)" in client.get("/staff/").get_data(as_text=True)


def test_reading_the_audit_log_is_itself_audited(app, engine):
    admin, _ = client_for(app, ADMIN_EMAIL)
    before = len(audit_entries(engine, "view_audit"))
    assert admin.get("/staff/audit").status_code == 200
    entries = audit_entries(engine, "view_audit")
    assert len(entries) == before + 1 and entries[-1].actor == ADMIN_EMAIL


def test_links_forms_and_redacted_exports_name_no_messaging_patient(app, engine, seed):
    now = time.time()
    phones = ["twilio:whatsapp:+447700900123", "twilio:+447700900456"]
    for sender in phones:
        seed(sender, synthetic.calf_cramp_conversation(now - 300, channel="twilio"))
    client, token = client_for(app)
    listing = client.get("/staff/").get_data(as_text=True)
    assert set(phones) <= set(linked(listing)), "the links still lead to the conversations"
    page = client.get(f"/staff/conversations/{LINK.findall(listing)[linked(listing).index(phones[0])]}")
    assert page.status_code == 200
    for html in (listing, page.get_data(as_text=True)):
        assert "7700900" not in html, "no phone number in a link, a form or a label"
    rows = list(csv.DictReader(io.StringIO(export(client, token, kind="outcomes", format="csv")
                                           .get_data(as_text=True))))
    labels = {row["conversation_id"] for row in rows if row["conversation_id"].startswith("twilio:")}
    assert len(labels) == 2 and not any("7700900" in label for label in labels), "apart, and anonymous"
