"""Check-ins as data (presentations.yaml check_in, advice.yaml follow_up): which outcomes offer
one, when it is due, and what it says, including what to do if things got worse."""
import pytest

from knowledge.follow_up import check_in_for, check_in_messages, wait_words
from knowledge.messages import MAX_MESSAGE_CHARS
from knowledge.model import knowledge
from knowledge.triage import PRESENT
from testing.readability import TYPICAL

CONTACT = {"emergency_number": "999", "urgent_number": "111", "clinic_phone": "01632 960000",
           "clinic_hours": "Mon-Fri 08:00-18:00", "clinic_name": "Calf & Back Clinic"}


def said(findings):
    plan = check_in_for(findings)
    return plan, "\n".join(m["text"] for m in check_in_messages(
        plan.presentation, plan.presentations, plan.after_days, plan.level, CONTACT))


def test_every_presentation_has_a_sourced_check_in_within_its_expected_course():
    k = knowledge()
    for presentation in k.presentations.values():
        check_in = presentation.check_in
        assert check_in and check_in.source.doc in k.sources and check_in.source.claim, presentation.id
        assert 7 <= check_in.after_days <= 42 and check_in.ask.endswith("?"), presentation.id


@pytest.mark.parametrize("findings, presentation, days", [
    ({"back_pain": PRESENT}, "low_back_pain", 14),
    ({"calf_pain": PRESENT, "recent_exercise": PRESENT}, "exercise_soreness", 7),
    ({"calf_pain": PRESENT, "minor_fall": PRESENT}, "calf_strain", 14),
    ({"night_cramps": PRESENT, "calf_cramps": PRESENT}, "night_cramps", 21),
    ({"calf_pain": PRESENT, "claudication_pattern": PRESENT}, "claudication", 14),
    ({"night_cramps": PRESENT, "back_pain": PRESENT}, "low_back_pain", 14),   # the earlier of the two
])
def test_the_check_in_comes_after_the_expected_course_of_what_the_patient_has(findings, presentation, days):
    plan = check_in_for(findings)
    assert (plan.presentation, plan.after_days) == (presentation, days)


@pytest.mark.parametrize("findings", [
    {"back_pain": PRESENT, "saddle_numbness": PRESENT},           # emergency
    {"calf_pain": PRESENT, "calf_swelling": PRESENT, "calf_red": PRESENT},   # urgent: possible DVT
])
def test_no_check_in_for_emergency_or_urgent_advice(findings):
    assert check_in_for(findings) is None


def test_the_check_in_asks_its_question_and_ends_with_what_to_do_if_it_got_worse():
    plan, text = said({"back_pain": PRESENT})
    assert text.startswith("Hello from Calf & Back Clinic. You asked us to check in after 2 weeks. Is your back better?")
    assert "If it's no better, book with the clinic on 01632 960000." in text
    assert "numbness around your bottom or genitals" in text, "the emergency signs that fit back pain"
    assert text.endswith("call the clinic on 01632 960000 today, or 111 if we're closed. In an emergency, call 999.")


def test_a_routine_check_in_asks_to_book_if_not_seen_yet_and_a_claudication_one_names_no_calf_stretch():
    _, text = said({"calf_pain": PRESENT, "claudication_pattern": PRESENT})
    assert "If you haven't been seen about it yet, please book" in text and "stretch" not in text
    assert "cold, pale or blue" in text


@pytest.mark.parametrize("name", sorted(TYPICAL))
def test_no_check_in_message_is_longer_than_the_cap(name):
    plan = check_in_for(TYPICAL[name])
    messages = check_in_messages(plan.presentation, plan.presentations, plan.after_days, plan.level, CONTACT)
    assert all(len(m["text"]) <= MAX_MESSAGE_CHARS for m in messages)
    assert "999" in messages[-1]["text"]


def test_a_check_in_for_a_presentation_no_longer_in_the_data_still_asks_and_safety_nets():
    messages = check_in_messages("retired_presentation", ["retired_presentation"], 10, "self_care", CONTACT)
    text = "\n".join(m["text"] for m in messages)
    assert "after 10 days. How are you feeling now?" in text and text.endswith("call 999.")


def test_waits_read_as_people_say_them():
    assert [wait_words(d) for d in (1, 7, 10, 14, 42)] == ["a day", "a week", "10 days", "2 weeks", "6 weeks"]
