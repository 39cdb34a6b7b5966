"""The check-in offer in the dialogue (bot/flow.py, rule 7): offered once after a self-care or
routine outcome, never after emergency or urgent advice; only a reply that answers it goes to
action_follow_up, and anything else lets it lapse without hiding or delaying any advice."""
import pytest

from bot.flow import (
    ESCALATE,
    FOLLOW_UP,
    LISTEN,
    OFFER_FOLLOW_UP,
    RECORD,
    TRIAGE_FORM,
    TRIAGE_OUTCOME,
    decide,
)
from tests.conversation_events import action, bot, loop, slot, user

CUSTOM = {"action_answer_question", TRIAGE_OUTCOME, RECORD, TRIAGE_FORM, "handoff_form", "action_record_handoff",
          "validate_triage_form", OFFER_FOLLOW_UP, FOLLOW_UP}


def outcome(complaint: str, level: str = "self_care") -> list[dict]:
    return [slot("consent", True), action("action_listen"), user(complaint), action("utter_opening"),
            action(TRIAGE_FORM), loop(TRIAGE_FORM), loop(None), action(TRIAGE_OUTCOME),
            bot("the advice", custom={"triage": {"level": level}})]


def offered(complaint: str = "my lower back aches after gardening") -> list[dict]:
    return outcome(complaint) + [action(OFFER_FOLLOW_UP), slot("follow_up", "offered"),
                                 bot("a check-in in 2 weeks?", ask="follow_up"), action(LISTEN)]


@pytest.mark.parametrize("complaint", [
    "my lower back aches after gardening",                       # self-care
    "my calves cramp at night",                                  # self-care
    "my calf hurts when I walk and it goes when I stop",          # routine: circulation check
])
def test_a_self_care_or_routine_outcome_is_followed_by_the_offer(complaint):
    assert decide(outcome(complaint), CUSTOM).action == OFFER_FOLLOW_UP


def test_no_offer_after_urgent_or_emergency_advice():
    urgent = [slot("consent", True), action("action_listen"), user("my calf is swollen and painful"), action(ESCALATE),
              bot("be seen today"), action(RECORD), action("action_listen"), user("no", "deny"),
              action(TRIAGE_OUTCOME), bot("be seen today", custom={"triage": {"level": "urgent"}})]
    assert decide(urgent, CUSTOM) is None
    emergency = [slot("consent", True), action("action_listen"), user("I've wet myself and my back hurts"),
                 action(ESCALATE), bot("call 999"), action(RECORD)]
    assert decide(emergency, CUSTOM).action == LISTEN


def test_the_offer_is_made_once_a_session():
    events = offered() + [user("no thanks", "deny"), action(FOLLOW_UP), slot("follow_up", "declined"), bot("ok"),
                          action(LISTEN), user("my back still aches, and it hurts when I bend", "describe_symptoms"),
                          action(TRIAGE_FORM), loop(TRIAGE_FORM), loop(None), action(TRIAGE_OUTCOME), bot("advice")]
    assert decide(events, CUSTOM) is None


def test_after_the_offer_the_bot_listens():
    assert decide(offered()[:-1], CUSTOM).action == LISTEN


@pytest.mark.parametrize("reply, intent", [
    ("yes please", "affirm"), ("/affirm", "affirm"), ("no thanks", "deny"), ("/deny", "deny"),
    ("text me on 07911 123456", "give_contact"),
])
def test_an_answer_to_the_offer_goes_to_the_follow_up_action(reply, intent):
    assert decide(offered() + [user(reply, intent)], CUSTOM).action == FOLLOW_UP


@pytest.mark.parametrize("reply, intent", [
    ("tell me more about step 2", "ask_plan_detail"), ("what is the soleus?", "ask_question"),
    ("can I talk to someone", "request_human"), ("thanks", "thank"), ("bye", "goodbye"),
])
def test_anything_else_lets_the_offer_lapse_and_gets_its_usual_answer(reply, intent):
    decision = decide(offered() + [user(reply, intent)], CUSTOM)
    assert decision is None or decision.action != FOLLOW_UP


def test_new_symptoms_in_the_reply_go_to_the_screen_and_an_emergency_escalates():
    assert decide(offered() + [user("yes, and my calves cramp at night too", "affirm")], CUSTOM).action == TRIAGE_FORM
    assert decide(offered() + [user("yes, and my calf is swollen and red now", "affirm")], CUSTOM).action == ESCALATE
    decision = decide(offered() + [user("yes but I've wet myself this morning", "affirm")], CUSTOM)
    assert decision.action == ESCALATE and decision.end_screen


def test_a_yes_after_the_offer_lapsed_is_not_taken_as_an_answer():
    events = offered() + [user("what is the soleus?", "ask_question"), action("action_answer_question"),
                          bot("the soleus is..."), action(LISTEN), user("yes", "affirm")]
    assert decide(events, CUSTOM) is None


@pytest.mark.parametrize("reply, intent", [
    ("07911 123456", "give_contact"), ("I don't have a mobile", "deny"), ("erm", "nlu_fallback"),
])
def test_after_asking_for_a_number_any_reply_but_a_question_goes_to_the_action(reply, intent):
    asked_number = offered() + [user("yes please", "affirm"), action(FOLLOW_UP), slot("follow_up", "ask_phone"),
                                bot("what number?", ask="follow_up_phone"), action(LISTEN)]
    assert decide(asked_number + [user(reply, intent)], CUSTOM).action == FOLLOW_UP
    assert decide(asked_number + [user("what is the soleus?", "ask_question")], CUSTOM) is None
