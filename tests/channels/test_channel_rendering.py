"""Pure rendering rules: merge, escalation order, text fallbacks, options, splitting."""
from __future__ import annotations

import re

import pytest
from channel_harness import EMERGENCY, FOLLOW_UP, PLAN, PLAN_STEPS, QUESTION, emergency_line
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels import rendering
from bot.channels.rendering import (
    MESSENGER,
    SLACK,
    SMS,
    TELEGRAM,
    WHATSAPP,
    ChannelProfile,
    Outgoing,
    escalations_first,
    merge_response,
    numbered_choice,
    numbered_options,
    render,
    split_text,
)


def test_merge_puts_text_buttons_and_custom_in_one_message() -> None:
    rasa_response = {**QUESTION, "image": None, "attachment": None, "elements": None,
                     "quick_replies": None, "timestamp": 1.0, "utter_action": "utter_ask"}
    assert merge_response("s1", rasa_response) == {"recipient_id": "s1", **QUESTION}


def test_merge_drops_malformed_buttons_and_empty_text() -> None:
    merged = merge_response("s1", {"text": "  ", "buttons": [
        {"title": "Yes", "payload": "/affirm", "type": "postback"}, "junk", {"payload": "/x"},
        {"title": "Untitled payload"}]})
    assert merged == {"recipient_id": "s1", "buttons": [
        {"title": "Yes", "payload": "/affirm"},
        {"title": "Untitled payload", "payload": "Untitled payload"}]}


def test_escalations_lead_and_the_rest_keeps_its_order() -> None:
    urgent = {"text": "urgent", "custom": {"triage": {"level": "urgent"}}}
    routine = {"text": "routine", "custom": {"triage": {"level": "self_care"}}}
    batch = [FOLLOW_UP, routine, EMERGENCY, {"text": "b"}, urgent]
    assert escalations_first(batch) == [EMERGENCY, urgent, FOLLOW_UP, routine, {"text": "b"}]


def test_numbered_options_read_naturally() -> None:
    assert numbered_options(QUESTION["buttons"]) == "Reply 1 for Yes, 2 for No, 3 for Not sure"


@pytest.mark.parametrize("reply, choice", [
    ("1", 1), (" 2 ", 2), ("2.", 2), ("3)", 3), ("\t12\n", 12),
    ("2 please", None), ("two", None), ("", None), ("1.5", None), ("-1", None),
])
def test_numbered_choice(reply: str, choice: object) -> None:
    assert numbered_choice(reply) == choice


def test_custom_only_triage_is_rendered_as_its_advice_line() -> None:
    rendered = render([{"recipient_id": "s", "custom": {"triage": {"level": "emergency"}}}], SMS)
    assert rendered == [Outgoing(emergency_line())]
    urgent = render([{"recipient_id": "s", "custom": {"triage": {"level": "urgent"}}}], SMS)
    assert "urgent" in urgent[0].text and "111" in urgent[0].text


def test_plan_steps_are_rendered_unless_the_text_already_has_them() -> None:
    plan_text = rendering.message_as_text(merge_response("s", PLAN))
    for step in PLAN_STEPS:
        assert step["title"] in plan_text and step["text"] in plan_text
    already_in_text = {"text": "Walk daily.", "custom": {"plan": [
        {"id": "a", "title": "Walk", "text": "Walk daily."},
        {"id": "b", "title": "Rest", "text": "Rest when sore."}]}}
    assert rendering.message_as_text(already_in_text) == "Walk daily.\n\n2. Rest\nRest when sore."


@pytest.mark.parametrize("profile", [SMS, WHATSAPP])
def test_text_channels_number_the_options(profile: ChannelProfile) -> None:
    [message] = render([merge_response("s", QUESTION)], profile)
    assert message == Outgoing(f"{QUESTION['text']}\n\nReply 1 for Yes, 2 for No, 3 for Not sure")


@pytest.mark.parametrize("profile", [TELEGRAM, SLACK, MESSENGER])
def test_button_channels_keep_native_buttons(profile: ChannelProfile) -> None:
    [message] = render([merge_response("s", QUESTION)], profile)
    assert message.text == QUESTION["text"]
    assert list(message.buttons) == QUESTION["buttons"]


def test_buttons_that_do_not_fit_the_platform_become_numbered() -> None:
    long_payload = {"text": "Pick", "buttons": [{"title": "A", "payload": "/x" + "y" * 70}]}
    [message] = render([long_payload], TELEGRAM)  # callback_data is limited to 64 bytes
    assert message.buttons == () and message.text.endswith("Reply 1 for A")


def test_render_splits_long_messages_and_puts_buttons_on_the_last_part() -> None:
    long_question = {"text": "word " * 1000, "buttons": QUESTION["buttons"]}
    parts = render([long_question], MESSENGER)
    assert len(parts) == 3 and all(len(part.text) <= 2000 for part in parts)
    assert [bool(part.buttons) for part in parts] == [False, False, True]


def test_split_prefers_paragraphs_then_lines_then_sentences() -> None:
    text = "A" * 30 + "\n\n" + "B" * 30 + "\n" + "C" * 30 + ". " + "D" * 30
    assert split_text(text, 40) == ["A" * 30, "B" * 30, "C" * 30 + ".", "D" * 30]
    assert split_text(text, 70) == ["A" * 30, "B" * 30, "C" * 30 + ". " + "D" * 30]
    assert split_text(text, 100) == ["A" * 30, "B" * 30 + "\n" + "C" * 30 + ". " + "D" * 30]


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab .!?\n")) | st.characters(),
                    max_size=3000),
       limit=st.integers(min_value=1, max_value=500))
def test_split_keeps_every_character_within_the_limit(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert all(0 < len(chunk) <= limit for chunk in chunks)
    assert re.sub(r"\s", "", "".join(chunks)) == re.sub(r"\s", "", text)
