"""The chat widget in headless Chromium, against the bot given by `rasa_socketio_url`."""
from __future__ import annotations

import json

import pytest
from chat_scenario import (
    CLINIC_PHONE,
    EMERGENCY,
    EMERGENCY_NUMBER,
    EXPLANATION_LINKS,
    OPENING,
    PLAN_TITLES,
    TO_SELF_CARE,
    URGENT,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from widget_page import ChatPage, origin

SERIOUS_IMPACTS = {"serious", "critical"}


def tel_href(number: str) -> str:
    return "tel:" + number.replace(" ", "")


def assert_no_serious_axe_violations(chat: ChatPage, report_name: str) -> None:
    violations = chat.axe_violations(report_name)
    serious = [(violation["id"], violation["impact"], [node["target"] for node in violation["nodes"]])
               for violation in violations if violation["impact"] in SERIOUS_IMPACTS]
    assert serious == []


def test_conversation_reaches_the_self_care_plan(chat):
    chat.start_conversation()
    chat.play(*TO_SELF_CARE)

    assert chat.messages("user") == [turn.click or turn.type for turn in TO_SELF_CARE]
    plan_titles = [title.text for title in chat.find_all(".chat-plan > li .chat-plan-title")]
    assert plan_titles == PLAN_TITLES
    # Answered questions can't be answered again; the patient's choices stay marked.
    assert all(not choice.is_enabled() for choice in chat.find_all(".chat-choice"))
    assert [choice.text for choice in chat.find_all(".chat-choice--chosen")] == ["Yes", "No"]
    links = chat.find_all(".chat-links a")
    assert [link.text.strip() for link in links] == [link["title"] for link in EXPLANATION_LINKS]
    assert links[1].get_attribute("href") == chat.site_url.rstrip("/") + EXPLANATION_LINKS[1]["url"]
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
    assert not chat.part("typing").is_displayed()


def test_emergency_banner_offers_a_tap_to_call_link(chat):
    chat.start_conversation()
    chat.play(TO_SELF_CARE[0], EMERGENCY)

    banner = chat.banner()
    assert banner is not None and banner.is_displayed()
    assert chat.part("banner").get_attribute("role") == "alert"
    assert "emergency" in banner.text
    call = banner.find_element(By.CSS_SELECTOR, "a[href^='tel:']")
    assert call.get_attribute("href") == tel_href(EMERGENCY_NUMBER)
    assert EMERGENCY_NUMBER in call.text
    assert banner.rect["y"] < chat.part("log").rect["y"], "the banner sits above the conversation"
    chat.screenshot("emergency")

    chat.set_viewport("phone")
    assert call.is_displayed()
    chat.screenshot("emergency")


def test_emergency_advice_reopens_a_closed_widget(chat):
    chat.start_conversation()
    chat.play(TO_SELF_CARE[0])
    chat.type_message(EMERGENCY.type)
    chat.part("input").send_keys(Keys.ESCAPE)  # closed while the bot is answering

    chat.wait_until(chat.part("panel").is_displayed, "the widget stayed closed")
    chat.wait_for_text(EMERGENCY.expect)
    assert chat.banner().is_displayed()


def test_urgent_banner_offers_the_clinic_phone(chat):
    chat.start_conversation()
    chat.play(URGENT)

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
    # The bot carries on from the same point: the session continued on the server too.
    chat.play(TO_SELF_CARE[2])
    assert chat.messages("bot")[: len(bot_before)] == bot_before


def test_start_again_clears_the_conversation(chat):
    chat.start_conversation()
    chat.play(TO_SELF_CARE[0], EMERGENCY)

    chat.part("restart").click()

    chat.wait_until(lambda: len(chat.messages("bot")) == 1 and OPENING.expect in chat.log_text(),
                    "the conversation did not start again")
    assert chat.messages("user") == []
    assert chat.banner() is None
    assert len(chat.stored_state()["entries"]) == 1
    chat.play(TO_SELF_CARE[0])


def test_keyboard_alone_opens_chats_and_closes(chat):
    def press(*keys: str) -> None:
        ActionChains(chat.driver).send_keys(*keys).perform()

    def tab_to(element, backwards: bool = False, limit: int = 40) -> None:
        key = Keys.SHIFT + Keys.TAB if backwards else Keys.TAB
        for _ in range(limit):
            if chat.active_element() == element:
                return
            press(key)
        pytest.fail(f"could not reach {element.text!r} with the keyboard")

    launcher = chat.part("launcher")
    tab_to(launcher)
    assert chat.driver.execute_script(
        "return getComputedStyle(arguments[0]).outlineStyle", launcher) != "none", "focus is visible"
    press(Keys.ENTER)
    chat.wait_for_text(OPENING.expect)
    assert chat.active_element() == chat.part("input"), "focus moves into the dialog"
    assert launcher.get_attribute("aria-expanded") == "true"

    yes = next(choice for choice in chat.find_all(".chat-choice") if choice.text == "Yes")
    tab_to(yes, backwards=True)
    press(Keys.ENTER)
    chat.wait_for_text(TO_SELF_CARE[0].expect)
    assert chat.active_element() == chat.part("input")
    press(TO_SELF_CARE[1].type, Keys.ENTER)
    chat.wait_for_text(TO_SELF_CARE[1].expect)

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
    chat.screenshot("self-care-plan")
    chat.play(EMERGENCY)
    assert_no_serious_axe_violations(chat, viewport)


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


def test_lost_connection_shows_the_emergency_number_then_recovers(chat, fake_rasa, rasa_socketio_url):
    if rasa_socketio_url != fake_rasa.url:
        pytest.skip("needs the fake bot to drop connections")
    chat.start_conversation()
    fake_rasa.refuse_connections = True
    try:
        fake_rasa.drop_connections()
        chat.wait_until(lambda: chat.find_all("[data-chat=notice] .chat-notice"), "no notice")
        notice = chat.find("[data-chat=notice] .chat-notice")
        assert "can't be reached" in notice.text
        assert notice.find_element(By.CSS_SELECTOR, "a").get_attribute("href") == tel_href(EMERGENCY_NUMBER)
    finally:
        fake_rasa.refuse_connections = False
    chat.wait_until(lambda: not chat.find_all("[data-chat=notice] .chat-notice"),
                    "the widget did not reconnect", seconds=20)
    chat.play(TO_SELF_CARE[0])


def test_bot_content_is_shown_as_text_and_unsafe_links_are_dropped(chat):
    hostile = {"from": "bot", "message": {
        "text": "<img src=x onerror=alert(1)> hello\nsecond line\n\n- first\n- second",
        "custom": {"explanation": {"links": [
            {"title": "Script", "url": "javascript:alert(1)"},
            {"title": "Data", "url": "data:text/html,hi"},
            {"title": "Advice", "url": "https://example.org/advice"},
        ]}},
    }}
    state = {"sessionId": None, "started": True, "open": True, "entries": [hostile]}
    chat.driver.execute_script(
        "localStorage.setItem('clinic-chat:v1', arguments[0])", json.dumps(state))
    chat.reload()

    bubble = chat.find(".chat-msg--bot")
    assert bubble.find_elements(By.TAG_NAME, "img") == []
    first_paragraph = bubble.find_element(By.TAG_NAME, "p").text
    assert first_paragraph == "<img src=x onerror=alert(1)> hello\nsecond line"
    assert [item.text for item in bubble.find_elements(By.CSS_SELECTOR, "ul:not(.chat-links) li")] == [
        "first", "second"]
    assert [link.get_attribute("href") for link in bubble.find_elements(By.CSS_SELECTOR, "a")] == [
        "https://example.org/advice"]
