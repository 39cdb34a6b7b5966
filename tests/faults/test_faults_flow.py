"""The policy's retry of a step lost to an action-server failure (bot/flow.py, item 4), from events."""
from bot.flow import DEGRADED, ESCALATE, LISTEN, RECORD_CONSENT, TRIAGE_FORM, TRIAGE_OUTCOME, decide
from tests.conversation_events import action, asked, bot, loop, slot, user

CUSTOM = {"action_answer_question", "action_triage_outcome", "action_record_outcome", "triage_form",
          "handoff_form", "action_record_handoff", "action_record_consent", "validate_triage_form"}


def lost(step: str) -> list[dict]:
    """The step ran and came back with nothing; the bot apologised and listened."""
    return [action(step), action(DEGRADED), bot("sorry", utter=DEGRADED), action(LISTEN)]


CONSENTED = [action(LISTEN), user("my back hurts"), action("utter_opening"), bot("hello"), action("consent_form"),
             loop("consent_form"), slot("requested_slot", "consent"), bot(ask="consent"), action(LISTEN),
             user("/affirm", "affirm"), action("consent_form"), slot("consent", True), loop(None),
             slot("requested_slot", None)]


def test_a_lost_consent_is_recorded_on_the_next_message_then_the_screen_starts():
    events = CONSENTED + lost(RECORD_CONSENT) + [user("/affirm", "affirm")]
    assert decide(events, CUSTOM).action == RECORD_CONSENT
    events += [action(RECORD_CONSENT), bot("Thank you.")]
    assert decide(events, CUSTOM).action == TRIAGE_FORM


def test_a_retried_step_that_fails_again_gets_the_apology_again():
    events = CONSENTED + lost(RECORD_CONSENT) + [user("hello?", "greet"), action(RECORD_CONSENT)]
    assert decide(events, CUSTOM).action == DEGRADED


def test_a_lost_outcome_is_given_on_the_next_message():
    events = CONSENTED + [action(RECORD_CONSENT), bot("Thank you."), *asked("radiculopathy"), action(LISTEN),
                          user("no", "deny"), action(TRIAGE_FORM), slot("radiculopathy", False), loop(None),
                          slot("requested_slot", None)] + lost(TRIAGE_OUTCOME) + [user("hello?", "greet")]
    assert decide(events, CUSTOM).action == TRIAGE_OUTCOME
    assert decide(events + [action(TRIAGE_OUTCOME), bot("self care")], CUSTOM).action == LISTEN


def test_an_active_screen_that_failed_is_left_to_the_rules():
    events = CONSENTED + [action(RECORD_CONSENT), bot("Thank you."), loop(TRIAGE_FORM), *asked("cauda_equina"),
                          action(LISTEN), user("no", "deny")] + lost(TRIAGE_FORM) + [user("no", "deny")]
    assert decide(events, CUSTOM) is None


def test_a_screen_that_failed_to_start_is_started_on_the_next_message():
    events = CONSENTED + [action(RECORD_CONSENT), bot("Thank you.")] + lost(TRIAGE_FORM) + [user("ok", "affirm")]
    assert decide(events, CUSTOM).action == TRIAGE_FORM


def test_an_emergency_in_the_next_message_comes_before_the_retry():
    events = CONSENTED + lost(RECORD_CONSENT) + [user("I can't feel it when I wipe")]
    assert decide(events, CUSTOM).action == ESCALATE


def test_only_the_message_right_after_the_apology_retries():
    events = CONSENTED + lost(RECORD_CONSENT) + [user("/affirm", "affirm"), action(RECORD_CONSENT), bot("Thanks"),
                                                 action(TRIAGE_FORM), loop(TRIAGE_FORM), bot(ask="cauda_equina"),
                                                 action(LISTEN), user("no", "deny")]
    assert decide(events, CUSTOM) is None
