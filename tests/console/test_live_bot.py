"""Issue 4's must-show: a conversation held over REST with the REAL bot appears in the console.

The bot (tests/conftest.py's session `bot`) writes its events and triage outcomes to
`bot_database`; the console under test (`bot_console`) reads that same database. Staff log in
through the browser, find the conversation in the list, open it and see what the bot said.
"""
from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from storage.redaction import redact
from tests.console.helpers import (
    CLINICIAN_EMAIL,
    PASSWORD,
    WAIT_SECONDS,
    log_in,
    outcome_text,
    sender_of_link,
    transcript_texts,
    wait_for,
)

pytestmark = [pytest.mark.servers, pytest.mark.browser, pytest.mark.postgres]

LIST_SECONDS = 30  # the projector worker shows it within seconds; generous on a loaded machine


# ---- the conversation, over REST ----------------------------------------------------------------

def triage_of(replies: list[dict]) -> dict | None:
    return next(((r.get("custom") or {}).get("triage") for r in replies
                 if (r.get("custom") or {}).get("triage")), None)


def asks(replies: list[dict]) -> list[str]:
    return [(r.get("custom") or {}).get("ask") for r in replies if (r.get("custom") or {}).get("ask")]


class Conversation:
    """Says each message over REST and keeps what was said, as the console should show it."""

    def __init__(self, bot, sender: str) -> None:
        self.bot, self.sender = bot, sender
        self.turns: list[tuple[str, str]] = []   # (speaker, text), as the transcript shows them
        self.replies: list[dict] = []

    def say(self, message: str, shown: str | None = None) -> list[dict]:
        """`shown`: how the console shows the message (a button's title, tagged "button")."""
        replies = self.bot.say(self.sender, message)
        self.turns.append(("Patient", shown or message))
        self.turns += [("Bot", reply["text"]) for reply in replies if reply.get("text")]
        self.replies += replies
        return replies

    def buttons_of(self, replies: list[dict]) -> dict[str, str]:
        return {button["payload"]: button["title"] for reply in replies
                for button in reply.get("buttons", [])}

    def click(self, replies: list[dict], payload: str) -> list[dict]:
        """Press the button with `payload` among those the last replies offered."""
        title = self.buttons_of(replies)[payload]
        return self.say(payload, shown=f"{title} button")


# ---- the console, in the browser -----------------------------------------------------------------

def squeeze(text: str) -> str:
    return " ".join(text.split())


def find_in_list(browser, base_url: str, sender: str, level: str):
    """Filter the list by level in the form, then reload until the conversation's row shows."""
    wait_for(browser, "#filters")
    Select(browser.find_element(By.ID, "filter-level")).select_by_value(level)
    browser.find_element(By.ID, "apply-filters").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda _: f"level={level}" in browser.current_url)
    wait_for(browser, "#conversations")
    deadline = time.monotonic() + LIST_SECONDS
    while not (links := [a for a in browser.find_elements(By.CSS_SELECTOR, "#conversations a.open")
                         if sender_of_link(a.get_attribute("href")) == sender]):
        if time.monotonic() > deadline:
            pytest.fail(f"{sender} never showed in the {level} list")
        time.sleep(0.5)
        browser.refresh()
        wait_for(browser, "#conversations")
    row = links[0].find_element(By.XPATH, "./ancestor::tr")
    cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
    return row, {"level": cells[0], "red_flags": cells[1], "preview": cells[2].splitlines()[0],
                 "channel": cells[3], "review": cells[5]}


def findings(browser) -> list[tuple[str, str, str]]:
    """(finding, assertion status, whose) for each row of the findings table."""
    rows = []
    for row in browser.find_elements(By.CSS_SELECTOR, "#findings tbody tr"):
        name, status, whose, _ = row.find_elements(By.TAG_NAME, "td")
        sub = name.find_element(By.CSS_SELECTOR, ".sub").text
        rows.append((name.text.replace(sub, "").strip(), status.text, whose.text))
    return rows


def outcome_facts(browser) -> dict[str, str]:
    """The facts listed under the (only) triage outcome: "Rules fired", "Sources", ..."""
    [outcome] = browser.find_elements(By.CSS_SELECTOR, "#outcomes article.outcome")
    names = outcome.find_elements(By.TAG_NAME, "dt")
    values = outcome.find_elements(By.TAG_NAME, "dd")
    return {name.text: value.text for name, value in zip(names, values, strict=True)}


def open_from_list(browser, row, sender: str) -> None:
    row.find_element(By.CSS_SELECTOR, "a.open").click()
    wait_for(browser, "#transcript")
    assert sender_of_link(browser.current_url) == sender
    assert sender not in browser.current_url, "the URL names no one"


def assert_transcript_is_the_conversation(browser, conversation: Conversation) -> None:
    shown = [(speaker, squeeze(text)) for speaker, text in transcript_texts(browser)]
    # Patient details are redacted in the console (the clinic's phone number too).
    said = [(speaker, squeeze(redact(text))) for speaker, text in conversation.turns]
    assert shown == said


# ---- the must-show --------------------------------------------------------------------------------

def test_an_emergency_held_over_rest_shows_in_the_console(bot, sender, bot_console,
                                                         bot_console_browser):
    browser = bot_console_browser
    talk = Conversation(bot, sender)
    first = "my lower back hurts and I've had no fever"
    replies = talk.say(first)
    assert asks(replies) == ["consent"]
    replies = talk.click(replies, "/affirm")
    assert asks(replies) == ["cauda_equina"]
    replies = talk.click(replies, "/affirm")
    assert asks(replies) == ["cauda_equina"] and not triage_of(replies), "which of these? before any advice"
    bladder = '/describe_symptoms{"finding": "bladder_dysfunction"}'
    bladder_title = talk.buttons_of(replies)[bladder]
    replies = talk.click(replies, bladder)
    triage = triage_of(replies)
    assert triage["level"] == "emergency" and triage["red_flags"] == ["cauda_equina"]
    assert triage["rules"] and triage["sources"]

    log_in(browser, bot_console, CLINICIAN_EMAIL, PASSWORD)
    row, listed = find_in_list(browser, bot_console, sender, "emergency")
    assert listed == {"level": "emergency", "red_flags": "cauda equina", "preview": first,
                      "channel": "rest", "review": "new"}

    open_from_list(browser, row, sender)
    assert browser.find_element(By.CSS_SELECTOR, "h1 .level").text == "emergency"
    assert_transcript_is_the_conversation(browser, talk)
    patient = [text for speaker, text in transcript_texts(browser) if speaker == "Patient"]
    assert patient == [first, "Yes, keep it button", "Yes button", f"{bladder_title} button"]
    assert "Offered: Yes, keep it No" in browser.find_element(By.ID, "transcript").text
    assert "Triage decision: emergency" in browser.find_element(By.ID, "transcript").text

    assert ("back pain", "present", "patient") in findings(browser)
    assert ("fever", "absent", "patient") in findings(browser)

    facts = outcome_facts(browser)
    assert "emergency" in outcome_text(browser) and "recorded live" in outcome_text(browser)
    assert f"protocol {triage['protocol_version']}" in outcome_text(browser)
    assert facts["Red flags"] == "cauda equina"
    assert facts["Rules fired"].splitlines() == triage["rules"]
    assert facts["Sources"].splitlines() == triage["sources"]


def test_a_self_care_conversation_held_over_rest_shows_in_the_console(bot, sender, bot_console,
                                                                     bot_console_browser):
    browser = bot_console_browser
    talk = Conversation(bot, sender)
    first = "my calves feel tight and cramp at night"
    replies = talk.say(first)
    assert asks(replies) == ["consent"]
    replies = talk.click(replies, "/affirm")
    asked = []
    while not triage_of(replies):
        assert len(asked) < 25, f"no outcome after {asked}"
        asked += asks(replies)
        replies = talk.say("no")
    triage = triage_of(replies)
    assert asked == ["dvt", "frequent_cramps"]
    assert triage["level"] == "self_care" and triage["red_flags"] == [] and triage["rules"] == []

    log_in(browser, bot_console, CLINICIAN_EMAIL, PASSWORD)
    row, listed = find_in_list(browser, bot_console, sender, "self_care")
    assert listed == {"level": "self care", "red_flags": "", "preview": first,
                      "channel": "rest", "review": "new"}

    open_from_list(browser, row, sender)
    assert browser.find_element(By.CSS_SELECTOR, "h1 .level").text == "self care"
    assert_transcript_is_the_conversation(browser, talk)
    patient = [text for speaker, text in transcript_texts(browser) if speaker == "Patient"]
    assert patient == [first, "Yes, keep it button", "no", "no"]

    assert {("calf cramps", "present", "patient"),
            ("night cramps", "present", "patient")} <= set(findings(browser))

    facts = outcome_facts(browser)
    assert "self care" in outcome_text(browser) and "recorded live" in outcome_text(browser)
    assert facts["Red flags"] == "none"
    assert facts["Rules fired"] == "none"
    assert facts["Sources"] == "none: no rule fired"
    plan = facts["Plan"].split(", ")
    assert plan == [step.replace("_", " ") for step in triage["plan"]]
    assert plan.index("heel walking") < plan.index("gastrocnemius stretch") < plan.index("soleus stretch")
