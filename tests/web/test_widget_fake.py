"""Widget behaviour the real bot can't be made to show, against the scripted fake (fake_rasa.py)."""
from __future__ import annotations

import time

import pytest
from chat_scenario import EMERGENCY_NUMBER
from fake_rasa import FAKE_TO_SELF_CARE
from selenium.webdriver.common.by import By

pytestmark = pytest.mark.browser


def test_lost_connection_shows_the_emergency_number_then_recovers(fake_chat, fake_rasa):
    chat = fake_chat
    chat.start_conversation()
    fake_rasa.refuse_connections = True
    try:
        fake_rasa.drop_connections()
        chat.wait_until(lambda: chat.find_all("[data-chat=notice] .chat-notice"), "no notice")
        notice = chat.find("[data-chat=notice] .chat-notice")
        assert "can't be reached" in notice.text
        assert notice.find_element(By.CSS_SELECTOR, "a").get_attribute("href") == f"tel:{EMERGENCY_NUMBER}"
    finally:
        fake_rasa.refuse_connections = False
    chat.wait_until(lambda: not chat.find_all("[data-chat=notice] .chat-notice"),
                    "the widget did not reconnect", seconds=20)
    chat.play(FAKE_TO_SELF_CARE[0])


def test_bot_content_is_shown_as_text_and_unsafe_links_are_dropped(fake_chat):
    chat = fake_chat
    hostile = {"from": "bot", "message": {
        "text": "<img src=x onerror=alert(1)> hello\nsecond line\n\n- first\n- second",
        "custom": {"explanation": {"links": [
            {"title": "Script", "url": "javascript:alert(1)"},
            {"title": "Data", "url": "data:text/html,hi"},
            {"title": "Advice", "url": "https://example.org/advice"},
            {"title": "Our exercises", "url": "/exercises/back"},
        ]}},
    }}
    state = {"sessionId": None, "started": True, "open": True, "entries": [hostile],
             "lastActive": int(time.time() * 1000)}
    chat.store_state(state)
    chat.reload()

    bubble = chat.find(".chat-msg--bot")
    assert bubble.find_elements(By.TAG_NAME, "img") == []
    first_paragraph = bubble.find_element(By.TAG_NAME, "p").text
    assert first_paragraph == "<img src=x onerror=alert(1)> hello\nsecond line"
    assert [item.text for item in bubble.find_elements(By.CSS_SELECTOR, "ul:not(.chat-links) li")] == [
        "first", "second"]
    assert [link.get_attribute("href") for link in bubble.find_elements(By.CSS_SELECTOR, "a")] == [
        "https://example.org/advice", chat.site_url.rstrip("/") + "/exercises/back"]


# ---- a shared computer: nothing of one patient's chat for the next --------------------------

IDLE_MINUTES = 30  # CLINIC_WIDGET_IDLE_MINUTES's default, which the fake site keeps


def minutes_ago(minutes: float) -> int:
    return int((time.time() - minutes * 60) * 1000)


def start_talking(chat) -> str:
    """Open the widget, answer the opening; returns the conversation's id."""
    chat.start_conversation()
    chat.play(FAKE_TO_SELF_CARE[0])
    return chat.stored_state()["sessionId"]


def test_the_chat_is_kept_in_session_storage_only(fake_chat):
    chat = fake_chat
    start_talking(chat)
    assert chat.stored_state()["entries"], "a reload in the same tab keeps the chat"
    assert chat.stored_state("localStorage") == {}, "nothing outlives the tab"
    assert chat.stored_state()["token"].startswith("fake-")


def test_a_reload_after_the_idle_expiry_shows_an_empty_chat(fake_chat, fake_rasa):
    chat = fake_chat
    old_id = start_talking(chat)
    state = chat.stored_state()
    chat.store_state({**state, "lastActive": minutes_ago(IDLE_MINUTES + 1)})  # a kiosk, left
    chat.reload()

    assert chat.messages("bot") == [] and chat.messages("user") == []
    assert not chat.part("panel").is_displayed()
    assert chat.stored_state().get("entries", []) == [] and not chat.stored_state().get("token")
    chat.start_conversation()  # the next person starts a conversation of their own
    assert chat.stored_state()["sessionId"] not in (None, old_id)
    assert chat.messages("user") == []


def test_a_reload_within_the_idle_time_keeps_the_chat(fake_chat):
    chat = fake_chat
    old_id = start_talking(chat)
    chat.store_state({**chat.stored_state(), "lastActive": minutes_ago(IDLE_MINUTES - 1)})
    chat.reload()
    assert chat.messages("user") == ["Yes"]
    assert chat.stored_state()["sessionId"] == old_id


def test_an_open_page_left_idle_is_wiped(fake_chat):
    chat = fake_chat
    start_talking(chat)
    # The clock moves on past the idle time (the widget checks every 15 s).
    chat.driver.execute_script(
        "const now = Date.now(); Date.now = () => now + arguments[0] * 60000;", IDLE_MINUTES + 1)
    chat.wait_until(lambda: not chat.find_all(".chat-msg"), "the chat stayed on the screen", seconds=30)
    assert chat.stored_state().get("entries", []) == []
    assert not chat.part("panel").is_displayed()


def test_end_and_clear_wipes_the_chat_and_its_conversation(fake_chat, fake_rasa):
    chat = fake_chat
    old_id = start_talking(chat)
    end = chat.part("end")
    assert end.text == "End and clear this chat" and end.is_displayed()
    end.click()

    assert not chat.part("panel").is_displayed()
    assert chat.active_element() == chat.part("launcher")
    assert chat.messages("bot") == [] and chat.stored_state().get("entries", []) == []
    assert not chat.stored_state().get("sessionId")
    chat.start_conversation()
    assert chat.stored_state()["sessionId"] not in (None, old_id)


def test_start_again_is_a_new_conversation(fake_chat, fake_rasa):
    chat = fake_chat
    old_id = start_talking(chat)
    chat.part("restart").click()
    chat.wait_until(lambda: chat.stored_state().get("sessionId") not in (None, old_id),
                    "no new conversation")
    chat.wait_until(lambda: chat.find_all(".chat-msg--bot"), "the new conversation did not open")
    assert chat.messages("user") == []
    new_id = chat.stored_state()["sessionId"]
    chat.play(FAKE_TO_SELF_CARE[0])
    assert [sid for sid, _ in fake_rasa.received][-1] == new_id
    assert all(message != "/restart" for _, message in fake_rasa.received)
