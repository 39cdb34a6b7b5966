"""No conversation id and no search words in a console URL (browser history, proxy logs), and
console links that stop working after a while."""
import base64
import json
import re
import time
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from storage import projector
from testing import synthetic
from tests.console.conftest import console_app
from tests.console.helpers import (
    ADMIN_EMAIL,
    LINK,
    SECRET_KEY,
    audit_entries,
    client_for,
    csrf_token_in,
    linked,
)
from webapp.console import links

pytestmark = pytest.mark.postgres

PHONE_DIGITS = "7700900"
NEXT = re.compile(r'rel="next" href="([^"]+)"')


def readable(url: str) -> str:
    """Everything a URL gives away to someone reading it: the URL itself, and each query value
    decoded as base64 where it is base64."""
    url = unquote(url.replace("&amp;", "&"))
    found = [url]
    for values in parse_qs(urlsplit(url).query).values():
        for value in values:
            try:
                found.append(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
                             .decode("utf-8", "replace"))
            except ValueError:
                pass
    return "\n".join(found)


def next_link(html: str) -> str:
    return NEXT.search(html).group(1).replace("&amp;", "&")


def seed_many(engine, count: int, prefix: str, **conversation) -> list[str]:
    now = time.time()
    senders = [f"{prefix}{i:03d}" for i in range(count)]
    with engine.begin() as connection:
        for i, sender in enumerate(senders):
            synthetic.insert_events(connection, sender, synthetic.calf_cramp_conversation(
                now - 600 - i * 60, **conversation))
    projector.catch_up(engine)
    return senders


def test_the_list_pages_links_name_no_messaging_patient(app, engine):
    phones = seed_many(engine, 60, "twilio:+447700900", channel="twilio")
    client, _ = client_for(app)

    first = client.get("/staff/").get_data(as_text=True)
    href = next_link(first)
    assert PHONE_DIGITS not in readable(href), "the cursor names the last patient on the page"
    second = client.get(href).get_data(as_text=True)
    assert sorted(linked(first) + linked(second)) == sorted(phones), "no gap, no repeat"


def test_a_search_is_posted_and_its_words_reach_no_url(app, engine):
    tingling = seed_many(engine, 60, "tingle-", first_message="tingling in my left foot")
    others = seed_many(engine, 5, "cramp-")
    client, _ = client_for(app)
    token = csrf_token_in(client.get("/staff/").get_data(as_text=True))

    assert client.post("/staff/", data={"q": "tingling"}).status_code == 400, "CSRF-checked"
    response = client.post("/staff/", data={"q": "tingling", "csrf_token": token})
    first = response.get_data(as_text=True)
    assert response.status_code == 200 and 'method="post"' in first
    href = next_link(first)
    assert "tingling" not in readable(href)
    second = client.get(href).get_data(as_text=True)
    assert sorted(linked(first) + linked(second)) == sorted(tingling), "the search goes on"
    assert "tingling" not in json.dumps([entry.details for entry in audit_entries(engine)])

    typed = client.get("/staff/?q=tingling").get_data(as_text=True)
    assert "Searches are not kept in links" in typed
    assert set(others) <= set(linked(typed)), "a search in a URL is not run"

    no_search = client.post("/staff/", data={"channel": "rest", "csrf_token": token})
    assert no_search.status_code == 303 and "channel=rest" in no_search.location


def test_the_audit_filter_takes_a_reference_not_an_id(app, engine, seed):
    phone = "twilio:+447700900123"
    seed(phone, synthetic.calf_cramp_conversation(time.time() - 600, channel="twilio"))
    seed("other", synthetic.calf_cramp_conversation(time.time() - 600))
    admin, token = client_for(app, ADMIN_EMAIL)
    listing = admin.get("/staff/").get_data(as_text=True)
    for reference in LINK.findall(listing):
        admin.get(f"/staff/conversations/{reference}")
    page = admin.get(f"/staff/conversations/{LINK.findall(listing)[linked(listing).index(phone)]}")
    audit_href = re.search(r'href="([^"]+)" id="audit-link"', page.get_data(as_text=True)).group(1)
    assert PHONE_DIGITS not in readable(audit_href)

    filtered = admin.get(audit_href.replace("&amp;", "&"))
    assert filtered.status_code == 200
    assert filtered.get_data(as_text=True).count("<td>view</td>") == 2, "this conversation's only"

    raw = admin.get("/staff/audit", query_string={"conversation": phone})
    assert raw.status_code == 400 and "not a conversation reference" in raw.get_data(as_text=True)
    assert "<td>view</td>" not in raw.get_data(as_text=True)

    typed = admin.post("/staff/audit", data={"conversation_id": phone, "csrf_token": token})
    assert typed.get_data(as_text=True).count("<td>view</td>") == 2


def made_minutes_ago(text: str, purpose: str, minutes: float) -> str:
    return links.cipher(SECRET_KEY, purpose).encrypt_at_time(
        text.encode(), int(time.time() - minutes * 60)).decode()


def test_console_links_expire_with_a_clear_answer(app, engine, seed):
    seed("cramp-1", synthetic.calf_cramp_conversation(time.time() - 600))
    client, token = client_for(app)
    lifetime = app.extensions["clinic_settings"].console_link_minutes
    assert lifetime == 720, "12 hours unless CLINIC_CONSOLE_LINK_MINUTES says otherwise"

    fresh = made_minutes_ago("cramp-1", links.CONVERSATION, lifetime - 5)
    assert client.get(f"/staff/conversations/{fresh}").status_code == 200
    old = made_minutes_ago("cramp-1", links.CONVERSATION, lifetime + 5)
    expired = client.get(f"/staff/conversations/{old}")
    assert expired.status_code == 410
    assert "This link has expired" in expired.get_data(as_text=True)

    stale_cursor = made_minutes_ago('[1, "2024-01-01T00:00:00+00:00", "x", null]',
                                    links.LIST_CURSOR, lifetime + 5)
    page = client.get("/staff/", query_string={"after": stale_cursor}).get_data(as_text=True)
    assert "That page of the list has expired" in page and linked(page) == ["cramp-1"]

    # A form on a page of the current session still works (sessions last 12 hours at most).
    form_token = made_minutes_ago("cramp-1", links.CONVERSATION, 11 * 60)
    review = client.post("/staff/review", data={"conversation_id": form_token,
                                                "csrf_token": token})
    assert review.status_code == 302


def test_the_link_lifetime_is_a_setting(settings, engine, seed):
    app = console_app(settings.copy(update={"console_link_minutes": 5}))
    seed("cramp-1", synthetic.calf_cramp_conversation(time.time() - 600))
    client, _ = client_for(app)
    assert client.get(f"/staff/conversations/"
                      f"{made_minutes_ago('cramp-1', links.CONVERSATION, 4)}").status_code == 200
    assert client.get(f"/staff/conversations/"
                      f"{made_minutes_ago('cramp-1', links.CONVERSATION, 6)}").status_code == 410
