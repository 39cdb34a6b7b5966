"""The chat widget in headless Chromium, against the REAL bot (Rasa's socket.io channel).

The patient's side and the expected texts are in chat_scenario.py.
"""
from __future__ import annotations

import pytest
from chat_scenario import (
    CALF_STEPS,
    CLINIC_PHONE,
    CONSENT_BUTTONS,
    EMERGENCY,
    EMERGENCY_FIRST_STEP,
    EMERGENCY_NUMBER,
    HEEL_WALKING_TEXT,
    OPENING,
    OPENING_MESSAGES,
    OUTCOME_TEXT,
    PLAN_IDS,
    PLAN_INTRO,
    TO_SELF_CARE,
    URGENT,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from widget_page import ChatPage, origin

pytestmark = [pytest.mark.servers, pytest.mark.browser]

SERIOUS_IMPACTS = {"serious", "critical"}


def tel_href(number: str) -> str:
    return "tel:" + number.replace(" ", "")


def assert_no_serious_axe_violations(chat: ChatPage, report_name: str) -> None:
    violations = chat.axe_violations(report_name)
    serious = [(violation["id"], violation["impact"], [node["target"] for node in violation["nodes"]])
               for violation in violations if violation["impact"] in SERIOUS_IMPACTS]
    assert serious == []


def plan_ids(chat: ChatPage) -> list[str]:
    return [step.get_attribute("data-plan-id") for step in chat.find_all("ol.chat-plan > li")]


def test_conversation_reaches_the_self_care_plan(chat):
    chat.start_conversation()
    assert [choice.text for choice in chat.find_all(".chat-choice")] == CONSENT_BUTTONS
    chat.play(*TO_SELF_CARE)

    assert chat.messages("user") == [turn.click or turn.type for turn in TO_SELF_CARE]
    assert OUTCOME_TEXT in chat.log_text()
    # The plan is an ordered list in the clinic's order: heel walking before the calf stretches.
    assert plan_ids(chat) == PLAN_IDS
    assert all(plan_ids(chat).index("heel_walking") < plan_ids(chat).index(step) for step in CALF_STEPS)
    assert chat.find("ol.chat-plan > li:first-child .chat-plan-title").text.lower().startswith("wake up the shin")
    # ... shown once: the message's text keeps only its introduction.
    assert chat.log_text().count(PLAN_INTRO) == 1
    assert chat.log_text().count(HEEL_WALKING_TEXT) == 1
    # Answered questions can't be answered again; the patient's choices stay marked.
    assert all(not choice.is_enabled() for choice in chat.find_all(".chat-choice"))
    assert [choice.text for choice in chat.find_all(".chat-choice--chosen")] == ["Yes, keep it", "No"]
    assert chat.banner() is None


def test_typing_indicator_shows_while_waiting_for_the_bot(chat):
    chat.start_conversation()
    chat.driver.execute_script("""
        const typing = document.querySelector("[data-chat=typing]");
        window.typingShown = false;
        new MutationObserver(() => { window.typingShown ||= !typing.hidden; })
            .observe(typing, {attributes: true});
    """)
    chat.play(TO_SELF_CARE[0])
    assert chat.driver.execute_script("return window.typingShown")
    chat.wait_until(lambda: not chat.part("typing").is_displayed(), "the typing indicator stayed")


def test_emergency_banner_offers_a_tap_to_call_link(chat):
    chat.start_conversation()
    chat.play(TO_SELF_CARE[0], EMERGENCY)

    banner = chat.banner()
    assert banner is not None and banner.is_displayed()
    assert chat.part("banner").get_attribute("role") == "alert"
    assert "emergency" in banner.text
    call = banner.find_element(By.CSS_SELECTOR, "a[href^='tel:']")
    assert call.get_attribute("href") == tel_href(EMERGENCY_NUMBER)
    assert call.text == f"Call {EMERGENCY_NUMBER} now"
    assert banner.rect["y"] < chat.part("log").rect["y"], "the banner sits above the conversation"
    advice = chat.find(".chat-msg--emergency")  # marked out from the other messages
    assert advice.find_element(By.TAG_NAME, "p").text == EMERGENCY.expect, "the advice leads"
    assert advice.find_element(By.CSS_SELECTOR, "ul > li").text == EMERGENCY_FIRST_STEP
    chat.scroll_to(".chat-msg--emergency")
    chat.screenshot("emergency")

    chat.set_viewport("phone")
    assert call.is_displayed()
    chat.scroll_to(".chat-msg--emergency")
    chat.screenshot("emergency")


def test_emergency_advice_reopens_a_closed_widget(chat):
    chat.start_conversation()
    chat.play(TO_SELF_CARE[0])
    # Sent and closed in one WebDriver command, so the widget is closed before any reply can
    # arrive (two commands raced a fast bot: the reply came first and the widget stayed closed).
    chat.part("input").send_keys(EMERGENCY.type, Keys.ENTER, Keys.ESCAPE)

    chat.wait_until(chat.part("panel").is_displayed, "the widget stayed closed", seconds=45)
    chat.wait_for_text(EMERGENCY.expect)
    assert chat.banner().is_displayed()


def test_urgent_banner_offers_the_clinic_phone(chat):
    chat.start_conversation()
    chat.play(TO_SELF_CARE[0], URGENT)

    banner = chat.banner()
    assert "Get seen today" in banner.text
    call = banner.find_element(By.CSS_SELECTOR, "a[href^='tel:']")
    assert call.get_attribute("href") == tel_href(CLINIC_PHONE)
    assert_no_serious_axe_violations(chat, "urgent")


def test_reload_keeps_the_conversation(chat):
    chat.start_conversation()
    chat.play(*TO_SELF_CARE[:2])
    bot_before, user_before = chat.messages("bot"), chat.messages("user")
    session_id = chat.stored_state()["sessionId"]

    chat.reload()

    assert chat.part("panel").is_displayed(), "the open widget reopens"
    assert chat.messages("bot") == bot_before
    assert chat.messages("user") == user_before
    assert chat.stored_state()["sessionId"] == session_id
    # The bot carries on from the same question: the session continued on the server too.
    chat.play(*TO_SELF_CARE[2:])
    assert chat.messages("bot")[: len(bot_before)] == bot_before
    assert plan_ids(chat) == PLAN_IDS


def test_start_again_is_a_new_conversation_and_clears_the_old_one(chat):
    chat.start_conversation()
    chat.play(TO_SELF_CARE[0], EMERGENCY)
    assert chat.banner() is not None
    old_id = chat.stored_state()["sessionId"]

    chat.part("restart").click()

    chat.wait_until(lambda: OPENING.expect in chat.log_text(), "the conversation did not start again",
                    seconds=45)
    chat.wait_until(lambda: len(chat.find_all(".chat-choice:enabled")) == len(CONSENT_BUTTONS),
                    "no consent question")
    assert chat.messages("user") == []
    assert EMERGENCY.expect not in chat.log_text()
    assert chat.banner() is None
    assert len(chat.stored_state()["entries"]) == len(chat.messages("bot")) <= OPENING_MESSAGES + 1
    assert chat.stored_state()["sessionId"] not in (None, old_id), "a new conversation"
    chat.play(TO_SELF_CARE[0])


def test_keyboard_alone_opens_chats_to_an_outcome_and_closes(chat):
    def press(*keys: str) -> None:
        ActionChains(chat.driver).send_keys(*keys).perform()

    def tab_to(element, backwards: bool = False, limit: int = 40) -> None:
        key = Keys.SHIFT + Keys.TAB if backwards else Keys.TAB
        for _ in range(limit):
            if chat.active_element() == element:
                return
            press(key)
        pytest.fail(f"could not reach {element.text!r} with the keyboard")

    def choose(title: str) -> None:
        choice = next(choice for choice in chat.find_all(".chat-choice:enabled") if choice.text == title)
        tab_to(choice, backwards=True)
        press(Keys.ENTER)

    launcher = chat.part("launcher")
    tab_to(launcher)
    assert chat.driver.execute_script(
        "return getComputedStyle(arguments[0]).outlineStyle", launcher) != "none", "focus is visible"
    press(Keys.ENTER)
    chat.wait_for_text(OPENING.expect)
    assert chat.active_element() == chat.part("input"), "focus moves into the dialog"
    assert launcher.get_attribute("aria-expanded") == "true"

    consent, complaint, first_question, last_question = TO_SELF_CARE
    choose(consent.click)
    chat.wait_for_text(consent.expect)
    assert chat.active_element() == chat.part("input"), "focus goes back to the message box"
    press(complaint.type, Keys.ENTER)
    chat.wait_for_text(complaint.expect)
    choose(first_question.click)
    chat.wait_for_text(first_question.expect)
    press(last_question.type, Keys.ENTER)
    chat.wait_for_text(last_question.expect)
    assert plan_ids(chat) == PLAN_IDS

    press(Keys.ESCAPE)
    assert not chat.part("panel").is_displayed()
    assert chat.active_element() == launcher, "focus returns to the launcher"
    assert launcher.get_attribute("aria-expanded") == "false"
    press(Keys.ENTER)
    chat.wait_until(chat.part("panel").is_displayed, "Enter did not reopen the widget")
    assert chat.active_element() == chat.part("input")


def test_phone_widget_fills_the_screen_and_keeps_focus_inside(chat):
    chat.set_viewport("phone")
    chat.start_conversation()
    panel = chat.part("panel").rect
    assert (panel["x"], panel["y"], panel["width"], panel["height"]) == (0, 0, 390, 844)
    send = chat.find(".chat-send")
    send.send_keys(Keys.TAB)
    assert chat.active_element() == chat.part("restart"), "Tab wraps to the widget's first control"
    chat.active_element().send_keys(Keys.SHIFT, Keys.TAB)
    assert chat.active_element() == send


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_accessibility_scan_finds_no_serious_problems(chat, viewport):
    chat.set_viewport(viewport)
    chat.start_conversation()
    chat.play(*TO_SELF_CARE)
    chat.scroll_to(".chat-msg--bot:has(ol.chat-plan)")
    chat.screenshot("self-care-plan")
    assert_no_serious_axe_violations(chat, f"{viewport}-self-care")
    chat.play(EMERGENCY)
    chat.screenshot("self-care-then-emergency")
    assert_no_serious_axe_violations(chat, f"{viewport}-emergency")


def test_page_contacts_only_its_own_origin_and_the_bot(chat, site_origins, rasa_socketio_url):
    chat.network_origins()  # forget the browser's own start-up requests
    chat.console_errors()
    chat.reload()
    chat.screenshot("clinic-page")
    chat.start_conversation()
    chat.play(TO_SELF_CARE[0])

    origins = chat.network_origins()
    assert origin(rasa_socketio_url) in origins, "the widget's websocket is seen"
    assert origins <= site_origins
    assert chat.console_errors() == [], "no script errors, missing files or CSP violations"


def test_phone_shows_a_whole_self_care_outcome_within_two_screens(chat):
    chat.set_viewport("phone")
    chat.start_conversation()
    chat.play(*TO_SELF_CARE)
    outcome_height, screen_height = chat.driver.execute_script("""
        const log = arguments[0];
        const messages = [...log.querySelectorAll('.chat-msg')];
        const lastUser = messages.map(m => m.classList.contains('chat-msg--user')).lastIndexOf(true);
        const outcome = messages.slice(lastUser + 1);
        const top = outcome[0].getBoundingClientRect().top;
        const bottom = outcome[outcome.length - 1].getBoundingClientRect().bottom;
        return [bottom - top, log.clientHeight];
    """, chat.part("log"))
    chat.scroll_to(".chat-msg--user")
    chat.screenshot("self-care-outcome-1")
    chat.driver.execute_script("arguments[0].scrollTop = arguments[0].scrollHeight", chat.part("log"))
    chat.screenshot("self-care-outcome-2")
    screens = outcome_height / screen_height
    print(f"self-care outcome: {screens:.2f} phone screens")
    assert screens <= 2, f"the outcome takes {screens:.2f} screens of the phone's conversation area"
