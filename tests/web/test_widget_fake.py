"""Widget behaviour the real bot can't be made to show, against the scripted fake (fake_rasa.py)."""
from __future__ import annotations

import json

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
        "https://example.org/advice", chat.site_url.rstrip("/") + "/exercises/back"]
