"""The deterministic policy's decisions, from conversation events."""
from bot.flow import (
    CONSENT_FORM,
    DEGRADED,
    ESCALATE,
    LISTEN,
    RECORD,
    RECORD_CONSENT,
    TRIAGE_FORM,
    TRIAGE_OUTCOME,
    decide,
)
from tests.conversation_events import action, asked, bot, loop, slot, user

CUSTOM = {"action_answer_question", "action_triage_outcome", "action_record_outcome", "triage_form",
          "handoff_form", "action_record_handoff", "validate_triage_form"}


def test_emergency_in_the_first_message_escalates_at_once_and_ends_the_screen():
    decision = decide([action("action_listen"), user("I can't feel it when I wipe and my back hurts")], CUSTOM)
    assert decision.action == ESCALATE and decision.end_screen


def test_the_advice_is_recorded_then_the_bot_listens_after_an_emergency():
    events = [action("action_listen"), user("I've wet myself and my back hurts"), action(ESCALATE), bot("call 999")]
    assert decide(events, CUSTOM).action == RECORD
    assert decide([slot("consent", True)] + events + [action(RECORD)], CUSTOM).action == LISTEN


def test_an_emergency_before_the_opening_asks_for_consent_after_the_advice_then_listens():
    events = [action("action_listen"), user("I've wet myself and my back hurts"), action(ESCALATE), bot("call 999"),
              action(RECORD)]
    assert decide(events, CUSTOM).action == CONSENT_FORM
    events += [action(CONSENT_FORM), loop(CONSENT_FORM), action("action_listen"), user("/affirm", "affirm"),
               action(CONSENT_FORM), slot("consent", True), loop(None), action(RECORD_CONSENT), bot("thank you")]
    assert decide(events, CUSTOM).action == LISTEN  # not the screen: the emergency ended it


def test_consent_declined_is_settled_and_not_asked_again():
    events = [slot("consent", False), action("action_listen"), user("I've wet myself and my back hurts"), action(ESCALATE),
              bot("call 999"), action(RECORD)]
    assert decide(events, CUSTOM).action == LISTEN


def test_after_urgent_advice_before_the_opening_the_questions_come_first_then_consent_with_the_outcome():
    events = [action("action_listen"), user("my calf is swollen and painful"), action(ESCALATE), bot(), action(RECORD)]
    assert decide(events, CUSTOM).action == TRIAGE_FORM
    events += [action("action_listen"), user("no", "deny"), action(TRIAGE_OUTCOME),
               bot("be seen today", custom={"triage": {"level": "urgent"}})]
    assert decide(events, CUSTOM).action == CONSENT_FORM


def test_a_negated_red_flag_does_not_escalate():
    assert decide([action("action_listen"), user("my back hurts, no numbness down there")], CUSTOM) is None


def test_a_red_flag_revealed_in_an_answer_escalates():
    events = [action("action_listen"), user("my back hurts"), *asked("cauda_equina"), action("action_listen"),
              user("yes both legs", intent="affirm")]
    assert decide(events, CUSTOM).action == ESCALATE


def test_a_red_flag_while_the_plan_is_discussed_escalates():
    events = [action("action_listen"), user("my calves are tight"), action("action_triage_outcome"), bot("plan"),
              action("action_listen"), user("why heel walking first? also my foot is starting to slap", "ask_question")]
    decision = decide(events, CUSTOM)
    assert decision.action == ESCALATE and not decision.end_screen  # urgent, not emergency


def test_the_same_flag_is_not_announced_twice_but_a_more_urgent_one_is():
    first = [action("action_listen"), user("my calf is swollen and red"), action(ESCALATE), bot(), action(RECORD)]
    again = first + [action("action_listen"), user("it's still swollen")]
    assert decide(again, CUSTOM) is None
    worse = first + [action("action_listen"), user("and now I'm suddenly short of breath")]
    decision = decide(worse, CUSTOM)
    assert decision.action == ESCALATE and decision.end_screen


def test_after_urgent_advice_the_screen_goes_on_with_questions_that_could_reveal_an_emergency():
    events = [slot("consent", True), action("action_listen"), user("my calf is swollen and painful"), action(ESCALATE), bot(),
              action(RECORD)]
    assert decide(events, CUSTOM).action == TRIAGE_FORM


def test_an_action_that_came_back_empty_gets_an_apology_not_silence():
    events = [action("action_listen"), user("what is the soleus?", "ask_question"), action("action_answer_question")]
    assert decide(events, CUSTOM).action == DEGRADED
    assert decide(events + [action(DEGRADED), bot("sorry")], CUSTOM).action == LISTEN


def test_an_action_that_replied_is_not_a_failure():
    events = [action("action_listen"), user("what is the soleus?", "ask_question"), action("action_answer_question"),
              bot("The soleus ...")]
    assert decide(events, CUSTOM) is None


def test_the_screen_resumes_after_a_handoff_that_interrupted_it():
    events = [action("action_listen"), user("my back hurts"), action("triage_form"), loop("triage_form"),
              action("action_listen"), user("can I talk to someone", "request_human"), action("handoff_form"),
              loop("handoff_form"), action("handoff_form"), loop(None), action("action_record_handoff"), bot("thanks")]
    assert decide(events, CUSTOM).action == TRIAGE_FORM


def test_a_restart_forgets_earlier_escalations():
    events = [action("action_listen"), user("I've wet myself and my back hurts"), action(ESCALATE), bot(),
              {"event": "restart"}, action("action_listen"), user("I've wet myself and my back hurts")]
    assert decide(events, CUSTOM).action == ESCALATE


# --- every message is evidence, in every state (conversation-robustness issue) -------------------
OPENED = [action("action_listen"), user("hi", "greet"), action("utter_opening"), bot("Hello"),
          action(CONSENT_FORM), loop(CONSENT_FORM), slot("requested_slot", "consent"), bot(ask="consent")]


def test_symptoms_typed_at_the_consent_question_start_the_screen_and_leave_the_consent_for_later():
    events = OPENED + [action("action_listen"), user("my caff has been killing me since sunday", "out_of_scope")]
    decision = decide(events, CUSTOM)
    assert decision.action == TRIAGE_FORM and decision.end_screen, "the consent form is left, the screen starts"


def test_small_talk_at_the_consent_question_is_left_to_the_consent_rules():
    events = OPENED + [action("action_listen"), user("what is this", "ask_question")]
    assert decide(events, CUSTOM) is None


def test_a_correction_after_the_outcome_runs_the_screen_again():
    events = [action("action_listen"), user("my lower back aches after gardening"), action("utter_opening"),
              action(TRIAGE_FORM),
              loop(TRIAGE_FORM), loop(None), action(TRIAGE_OUTCOME),
              bot("self-care", custom={"triage": {"level": "self_care"}}), slot("consent", True),
              action("action_listen"), user("oh and the pain goes down my left leg to my foot", "thank")]
    assert decide(events, CUSTOM).action == TRIAGE_FORM


def test_no_in_the_callback_form_leaves_it():
    events = [action("action_listen"), user("can someone call me", "request_human"), action("handoff_form"),
              loop("handoff_form"), slot("requested_slot", "contact_method"), bot(ask="contact_method"),
              action("action_listen"), user("no thanks I don't want a call", "deny")]
    decision = decide(events, CUSTOM)
    assert decision.action == "utter_handoff_left" and decision.end_screen
    assert decide(events + [action("utter_handoff_left"), bot("OK")], CUSTOM).action == LISTEN


def test_a_yes_to_a_several_item_question_asks_which_before_any_advice():
    events = [action("action_listen"), user("my back hurts"), *asked("cauda_equina"), action("action_listen"),
              user("yes", intent="affirm")]
    assert decide(events, CUSTOM) is None, "no escalation on a bare yes: 'which of these?' comes first"


def test_a_bare_duration_read_as_contact_details_does_not_start_the_callback_form():
    events = [action("action_listen"), user("my back hurts"), action("utter_opening"), action(TRIAGE_FORM),
              loop(TRIAGE_FORM), *asked("cauda_equina"), action("action_listen"), user("3 weeks", "give_contact")]
    assert decide(events, CUSTOM).action == TRIAGE_FORM


def test_no_to_a_call_does_not_start_the_callback_form():
    events = [action("action_listen"), user("my back hurts"), action("utter_opening"), action(TRIAGE_OUTCOME),
              bot("self care"), action("action_listen"), user("no thanks, I don't want a call", "request_human")]
    assert decide(events, CUSTOM).action == "utter_handoff_left"


def test_more_about_what_was_said_after_the_outcome_is_acknowledged_not_a_fallback():
    events = [action("action_listen"), user("my lower back aches after gardening"), action("utter_opening"),
              action(TRIAGE_FORM), loop(TRIAGE_FORM), loop(None), action(TRIAGE_OUTCOME), bot("self-care"),
              slot("consent", True), action("action_listen"), user("my back aches a lot", "affirm")]
    assert decide(events, CUSTOM).action == "utter_noted"
    assert decide(events + [action("utter_noted"), bot("Thanks")], CUSTOM).action == LISTEN


def test_more_symptoms_at_the_consent_question_start_the_screen_even_if_known():
    events = OPENED + [action("action_listen"), user("my back is worst at night", "ask_question"),
                       action("action_answer_question"), bot("..."), action(CONSENT_FORM), bot(ask="consent"),
                       action("action_listen"), user("i cant get comfy and my back is bad at night", "deny")]
    decision = decide(events, CUSTOM)
    assert decision.action == TRIAGE_FORM and decision.end_screen


def test_when_the_form_finds_nothing_to_read_the_rules_answer_not_a_silent_listen():
    events = [action("action_listen"), user("my calves are tight"), *asked("dvt"), action("action_listen"),
              user("my email is on file", "request_human")]
    events += [action(TRIAGE_FORM), {"event": "action_execution_rejected", "name": TRIAGE_FORM, "timestamp": 0.0}]
    assert decide(events, CUSTOM) is None


def test_a_first_message_that_is_only_a_yes_or_unreadable_gets_the_opening_then_consent():
    for intent in ("affirm", "thank", "nlu_fallback"):
        events = [action("action_listen"), user("👍👍👍👍", intent)]
        assert decide(events, CUSTOM).action == "utter_opening"
        assert decide(events + [action("utter_opening"), bot("hello, in an emergency call 999")], CUSTOM).action \
            == CONSENT_FORM
