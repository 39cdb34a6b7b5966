"""The dialogue's transition table (bot/flow.py TABLE), tested as a table: one conversation per row,
in which that row, and no earlier one, decides what happens next."""
import pytest

from bot.flow import (
    CONSENT_FORM,
    DEGRADED,
    ESCALATE,
    FOLLOW_UP,
    HANDOFF_FORM,
    HANDOFF_LEFT,
    LISTEN,
    NOTED,
    OFFER_FOLLOW_UP,
    OPENING,
    RECORD,
    RECORD_CONSENT,
    RECORD_HANDOFF,
    TABLE,
    TRIAGE_FORM,
    TRIAGE_OUTCOME,
    explain,
)
from tests.conversation_events import action, asked, bot, loop, slot, user

CUSTOM = {"action_answer_question", TRIAGE_OUTCOME, RECORD, TRIAGE_FORM, HANDOFF_FORM, RECORD_HANDOFF,
          RECORD_CONSENT, "validate_triage_form", OFFER_FOLLOW_UP, FOLLOW_UP}
LEAVE_TO_RULES = None

OPENED = [action("action_listen"), user("hello", "greet"), action(OPENING), bot("hello, in an emergency call 999"),
          action(CONSENT_FORM), loop(CONSENT_FORM), action("action_listen"), user("yes", "affirm"),
          action(CONSENT_FORM), slot("consent", True), loop(None), action(RECORD_CONSENT), bot("thanks")]
SCREEN = OPENED + [action("action_listen"), user("my lower back aches"), action(TRIAGE_FORM), loop(TRIAGE_FORM),
                   *asked("cauda_equina")[1:]]
OUTCOME_GIVEN = SCREEN + [action("action_listen"), user("no", "deny"), action(TRIAGE_FORM), loop(None),
                          action(TRIAGE_OUTCOME), bot("self-care", custom={"triage": {"level": "self_care"}})]
HANDOFF_IN_SCREEN = SCREEN + [action("action_listen"), user("can I talk to someone", "request_human"),
                              action(HANDOFF_FORM), loop(HANDOFF_FORM), bot("your phone number?")]
CHECK_IN_OFFERED = OUTCOME_GIVEN + [action(OFFER_FOLLOW_UP), slot("follow_up", "offered"),
                                    bot("a check-in in 2 weeks?", ask="follow_up"), action(LISTEN)]
EMERGENCY_THEN_CONSENT = [
    action("action_listen"), user("I've wet myself and my back hurts"), action(ESCALATE), bot("call 999"),
    action(RECORD), action(CONSENT_FORM), loop(CONSENT_FORM), action("action_listen"), user("yes", "affirm"),
    action(CONSENT_FORM), slot("consent", True), loop(None), action(RECORD_CONSENT), bot("thanks")]
FAILED_CONSENT = [action("action_listen"), user("hello", "greet"), action(OPENING), bot("hello"),
                  action(CONSENT_FORM), loop(CONSENT_FORM), action("action_listen"), user("yes", "affirm"),
                  action(CONSENT_FORM), slot("consent", True), loop(None), action(RECORD_CONSENT),
                  action(DEGRADED), bot("sorry, something went wrong"), action(LISTEN)]

EXAMPLES = {
    "escalate a new red flag": (
        [action("action_listen"), user("my back hurts and I've wet myself without noticing")], ESCALATE),
    "retry a lost step": (FAILED_CONSENT + [user("hello?", "greet")], RECORD_CONSENT),
    "an answer to the check-in offer": (CHECK_IN_OFFERED + [user("yes please", "affirm")], FOLLOW_UP),
    "open a bare first message": ([action("action_listen"), user("👍👍👍", "affirm")], OPENING),
    "no leaves the callback form": (HANDOFF_IN_SCREEN + [action("action_listen"), user("no", "deny")], HANDOFF_LEFT),
    "the opening rules come first": ([action("action_listen"), user("my calf aches")], LEAVE_TO_RULES),
    "a question is answered first": (SCREEN + [action("action_listen"), user("what is the soleus?", "ask_question")],
                                     LEAVE_TO_RULES),
    "no thanks to a call": (OUTCOME_GIVEN + [action("action_listen"),
                                             user("no thanks I don't want a call", "request_human")], HANDOFF_LEFT),
    "a misread intent goes to the screen": (SCREEN + [action("action_listen"), user("3 weeks", "give_contact")],
                                            TRIAGE_FORM),
    "new evidence goes to the screen": (OUTCOME_GIVEN + [action("action_listen"),
                                                         user("I forgot, my calf is swollen too")], TRIAGE_FORM),
    "more of what was said after the advice": (OUTCOME_GIVEN + [action("action_listen"),
                                                                user("my back still aches")], NOTED),
    "the form reads an answer the rules have no step for": (SCREEN + [action("action_listen"),  # no intent read
                                                                      user("erm", None)], TRIAGE_FORM),
    "record the advice given": ([action("action_listen"), user("I've wet myself"), action(ESCALATE), bot("call 999")],
                                RECORD),
    "after urgent advice, ask what could still be an emergency": (
        [action("action_listen"), user("my calf is swollen and painful"), action(ESCALATE), bot(), action(RECORD)],
        TRIAGE_FORM),
    "after the advice, listen once consent is settled": (
        [slot("consent", False), action("action_listen"), user("I've wet myself and my back hurts"), action(ESCALATE),
         bot("call 999"), action(RECORD)], LISTEN),
    "after the advice, ask for consent": (
        [action("action_listen"), user("I've wet myself and my back hurts"), action(ESCALATE), bot("call 999"),
         action(RECORD)], CONSENT_FORM),
    "never silent": (SCREEN + [action("action_listen"), {**user("no", "deny"), "input_channel": "rest"},
                               action(TRIAGE_FORM)], DEGRADED),
    "consent after the opening": ([action("action_listen"), user("👍", "affirm"), action(OPENING), bot("hello")],
                                  CONSENT_FORM),
    "listen after the apology": (SCREEN + [action("action_listen"), user("no", "deny"), action(TRIAGE_FORM),
                                           action(DEGRADED), bot("sorry")], LISTEN),
    "listen after noting": (OUTCOME_GIVEN + [action("action_listen"), user("my back still aches"), action(NOTED),
                                             bot("noted")], LISTEN),
    "the screen resumes after leaving the callback form": (
        HANDOFF_IN_SCREEN + [action("action_listen"), user("no", "deny"), action(HANDOFF_LEFT), loop(None),
                             bot("ok, no call")], TRIAGE_FORM),
    "listen after leaving the callback form": (
        OUTCOME_GIVEN + [action("action_listen"), user("no thanks", "request_human"), action(HANDOFF_LEFT),
                         bot("ok, no call")], LISTEN),
    "consent after the outcome": (
        [action("action_listen"), user("my lower back aches"), action(TRIAGE_OUTCOME), bot("self-care")],
        CONSENT_FORM),
    "offer a check-in after consent given after the outcome": (
        [action("action_listen"), user("my lower back aches"), action(TRIAGE_OUTCOME), bot("self-care"),
         action(CONSENT_FORM), loop(CONSENT_FORM), action("action_listen"), user("yes", "affirm"),
         action(CONSENT_FORM), slot("consent", True), loop(None), action(RECORD_CONSENT), bot("thanks")],
        OFFER_FOLLOW_UP),
    "listen after consent given after the outcome": (EMERGENCY_THEN_CONSENT, LISTEN),
    "listen after the check-in offer": (OUTCOME_GIVEN + [action(OFFER_FOLLOW_UP)], LISTEN),
    "listen after the reply to the offer": (
        CHECK_IN_OFFERED + [user("no thanks", "deny"), action(FOLLOW_UP), slot("follow_up", "declined"),
                            bot("ok, no check-in")], LISTEN),
    "offer a check-in after the outcome": (OUTCOME_GIVEN, OFFER_FOLLOW_UP),
    "the screen starts after a retried consent": (
        FAILED_CONSENT + [user("hello?", "greet"), action(RECORD_CONSENT), bot("thanks")], TRIAGE_FORM),
    "listen after a retried outcome": (
        SCREEN + [action("action_listen"), user("no", "deny"), action(TRIAGE_FORM), loop(None), action(TRIAGE_OUTCOME),
                  action(DEGRADED), bot("sorry"), action(LISTEN), user("hello?", "greet"), slot("consent", True),
                  action(TRIAGE_OUTCOME), bot("self-care")], LISTEN),
    "the screen resumes after the callback request": (
        HANDOFF_IN_SCREEN + [action("action_listen"), user("07700 900123", "give_contact"), action(HANDOFF_FORM),
                             loop(None), action(RECORD_HANDOFF), bot("we'll call")], TRIAGE_FORM),
    "listen after a retried callback request": (
        OUTCOME_GIVEN + [action("action_listen"), user("call me on 07700 900123", "give_contact"),
                         action(RECORD_HANDOFF), action(DEGRADED), bot("sorry"), action(LISTEN),
                         user("hello?", "greet"), action(RECORD_HANDOFF), bot("we'll call")], LISTEN),
}


def test_every_row_has_an_example_and_every_example_a_row():
    assert set(EXAMPLES) == {row.name for row in TABLE}


def test_row_names_are_unique():
    assert len({row.name for row in TABLE}) == len(TABLE)


@pytest.mark.parametrize("name", [row.name for row in TABLE])
def test_the_row_decides_its_example(name):
    events, expected = EXAMPLES[name]
    row, decision = explain(events, CUSTOM)
    assert row is not None and row.name == name
    assert (decision.action if decision else None) == expected


@pytest.mark.parametrize("text", ["tell me more about step 2 for my back", "why? my back still aches"])
def test_a_question_about_the_plan_is_left_to_its_rule_not_noted(text):
    """ask_plan_detail has its own rule (action_explain_plan): no row takes it, even when it names
    a complaint already reported."""
    row, decision = explain(OUTCOME_GIVEN + [action("action_listen"), user(text, "ask_plan_detail")], CUSTOM)
    assert decision is None
