"""Actions, financial-demo style: build a Tracker, run the action, assert the exact events and messages."""
import asyncio
from datetime import datetime, timezone

import pytest
from rasa_sdk.events import SlotSet

from actions import common
from actions.consent import ActionRecordConsent
from actions.handoff import ActionRecordHandoff, ValidateHandoffForm
from actions.questions import ActionAnswerQuestion, ActionExplainPlan
from actions.screening import ActionRecordOutcome, ActionTriageOutcome, ValidateTriageForm
from tests.actions.conftest import make_tracker, rows
from tests.conversation_events import action, asked, bot, user


def run(action_, tracker):
    from tests.actions.conftest import run as run_action

    return asyncio.run(run_action(action_, tracker))


def test_screen_starts_with_the_most_dangerous_question_the_patient_has_not_answered():
    tracker = make_tracker([action("action_listen"), user("my lower back aches, no numbness down there")])
    events, messages = run(ValidateTriageForm(), tracker)
    assert events[0] == SlotSet("complaint", "lower back pain")
    assert events[-1] == SlotSet("requested_slot", "cauda_equina")
    assert messages == []


def test_a_no_fills_the_question_and_moves_to_the_next_one():
    events = [action("action_listen"), user("my back hurts"), *asked("cauda_equina"), action("action_listen"),
              user("no", intent="deny")]
    result, _ = run(ValidateTriageForm(), make_tracker(events, {"complaint": "lower back pain"}))
    assert SlotSet("cauda_equina", "absent") in result
    assert result[-1] == SlotSet("requested_slot", "major_trauma")


def test_an_answer_in_passing_removes_its_question():
    events = [action("action_listen"), user("my back hurts and I haven't had any accident")]
    result, _ = run(ValidateTriageForm(), make_tracker(events))
    pending = [e["value"] for e in result if e["name"] == "requested_slot"]
    assert pending == ["cauda_equina"]
    events += [*asked("cauda_equina"), action("action_listen"), user("no", intent="deny")]
    result, _ = run(ValidateTriageForm(), make_tracker(events, {"complaint": "x", "cauda_equina": None}))
    assert result[-1] == SlotSet("requested_slot", "progressive_neuro_deficit")  # major_trauma was answered


def test_nothing_said_yet_asks_for_the_complaint():
    result, _ = run(ValidateTriageForm(), make_tracker([action("action_listen"), user("/greet", "greet")]))
    assert result == [SlotSet("requested_slot", "complaint")]


def test_an_emergency_ends_the_screen():
    events = [action("action_listen"), user("my back hurts"), *asked("cauda_equina"), action("action_listen"),
              user("yes I've wet myself", intent="affirm")]
    result, _ = run(ValidateTriageForm(), make_tracker(events, {"complaint": "lower back pain"}))
    assert result[-1] == SlotSet("requested_slot", None)


def _self_care_conversation():
    events = [action("action_listen"), user("my calves cramp at night")]
    for question in ("dvt", "frequent_cramps"):
        events += [*asked(question), action("action_listen"), user("no", intent="deny")]
    return events


def test_outcome_gives_level_and_why_ordered_plan_and_safety_net_and_stores_it(database):
    events = _self_care_conversation()
    result, messages = run(ActionTriageOutcome(), make_tracker(events))
    assert [m["text"].split("\n")[0][:40] for m in messages] == [
        "Nothing you've told me needs urgent care",
        "Your self-care plan, in the order the cl",
        "4. When a cramp comes, pull your toes up",
        "Know when to get help"]
    assert "Night cramps are common" in messages[0]["text"]
    assert all(len(m["text"]) <= 600 for m in messages)
    triage = messages[0]["custom"]["triage"]
    assert triage["level"] == "self_care" and triage["red_flags"] == []
    assert triage["presentations"] == ["night_cramps"]
    assert triage["plan"][0] == "heel_walking" and triage["plan"][-1] == "safety_net"
    assert triage["event_key"].startswith("user@")
    assert [s["id"] for s in messages[1]["custom"]["plan"]][:3] == ["heel_walking", "gastrocnemius_stretch",
                                                                    "soleus_stretch"]
    assert [s["number"] for s in messages[2]["custom"]["plan"]] == [4, 5]
    assert result == [SlotSet("findings", {"calf_cramps": "present", "night_cramps": "present",
                                           "screen.dvt": "absent", "calf_swelling": "absent", "calf_warm": "absent",
                                           "calf_red": "absent", "tight_swelling": "absent",  # no swelling at all
                                           "screen.frequent_cramps": "absent",
                                           "cramps_frequent": "absent", "leg_numbness": "absent"})]
    [stored] = rows(database, "triage_outcomes")
    assert stored["level"] == "self_care" and stored["conversation_id"] == "patient-1"


def test_outcome_survives_a_storage_failure(monkeypatch):
    class Broken:
        def record_outcome(self, **fields):
            raise RuntimeError("database down")

    monkeypatch.setattr(common, "repository", lambda: Broken())
    _, messages = run(ActionTriageOutcome(), make_tracker(_self_care_conversation()))
    assert len(messages) == 4 and messages[0]["custom"]["triage"]["level"] == "self_care"


def test_record_outcome_stores_the_advice_the_server_gave(database):
    triage = {"level": "emergency", "red_flags": ["cauda_equina"], "rules": ["cauda_equina.saddle_or_sphincter"],
              "protocol_version": "2026.11.0", "plan": [], "reason": "why", "sources": ["NHS"]}
    events = [action("action_listen"), user("I've wet myself and my back hurts"), action("utter_escalation"),
              bot("Call 112 now", custom={"triage": triage})]
    result, messages = run(ActionRecordOutcome(), make_tracker(events))
    assert messages == []
    [stored] = rows(database, "triage_outcomes")
    assert (stored["level"], stored["conversation_id"]) == ("emergency", "patient-1")


def test_questions_are_answered_from_the_graph_with_sources():
    _, messages = run(ActionAnswerQuestion(), make_tracker([action("action_listen"),
                                                           user("what is the soleus?", "ask_question")]))
    message = messages[0]
    assert message["text"].startswith("Soleus:") and "does not cross the knee" in " ".join(m["text"] for m in messages)
    assert message["custom"]["explanation"] == {"topic": "soleus", "sources": ["clinic_article"]}
    assert all(len(m["text"]) <= 600 for m in messages)   # a long answer comes in parts


def test_after_an_emergency_every_answer_repeats_what_to_do():
    events = [action("action_listen"), user("I've wet myself and my back hurts"), action("utter_escalation"), bot(),
              action("action_listen"), user("what is the soleus?", "ask_question")]
    _, messages = run(ActionAnswerQuestion(), make_tracker(events))
    assert messages[-1]["response"] == "utter_emergency_reminder"


def test_consent_is_stored_and_confirmed(database):
    events, messages = run(ActionRecordConsent(), make_tracker([action("action_listen"), user("/affirm", "affirm")],
                                                               {"consent": True}))
    assert events == [SlotSet("consent", True)]
    assert [m["response"] for m in messages] == ["utter_consent_given"]
    assert rows(database, "conversations")[0]["consent"] in (True, 1)


def test_consent_asked_after_an_emergency_is_answered_with_the_reminder(database):
    events = [action("action_listen"), user("I've wet myself and my back hurts"), action("utter_escalation"), bot(),
              action("action_record_outcome"), action("consent_form"), action("action_listen"),
              user("/deny", "deny")]
    result, messages = run(ActionRecordConsent(), make_tracker(events, {"consent": False}))
    assert result == [SlotSet("consent", False)]
    assert [m["response"] for m in messages] == ["utter_consent_declined", "utter_emergency_reminder"]


def test_contact_details_given_in_one_message_fill_method_and_value():
    events = [action("action_listen"), user("can someone call me on 07700 900123", "request_human")]
    result, _ = run(ValidateHandoffForm(), make_tracker(events))
    assert result == [SlotSet("contact_method", "phone"), SlotSet("contact_value", "07700 900123"),
                      SlotSet("requested_slot", "contact_consent")]


def test_an_unreadable_contact_is_asked_again():
    events = [action("action_listen"), user("phone", "give_contact"), action("handoff_form"),
              bot(ask="contact_value"), action("action_listen"), user("my number is secret", "give_contact")]
    result, messages = run(ValidateHandoffForm(), make_tracker(events, {"contact_method": "phone"}))
    assert result == [SlotSet("requested_slot", "contact_value")]
    assert messages[0]["response"] == "utter_contact_not_understood"


@pytest.mark.parametrize("when, response", [
    (datetime(2026, 11, 24, 10, tzinfo=timezone.utc), "utter_handoff_recorded_open"),
    (datetime(2026, 11, 24, 22, tzinfo=timezone.utc), "utter_handoff_recorded_closed")])
def test_handoff_is_queued_for_staff_with_opening_hours(database, monkeypatch, when, response):
    import actions.handoff

    monkeypatch.setattr(actions.handoff, "now", lambda: when)
    slots = {"contact_method": "phone", "contact_value": "07700 900123", "contact_consent": "yes"}
    result, messages = run(ActionRecordHandoff(), make_tracker([action("action_listen"), user("yes", "affirm")], slots))
    assert messages[0]["response"] == response
    assert result == [SlotSet(s, None) for s in slots]
    [request] = rows(database, "handoff_requests")
    assert request["contact_value"] == "07700 900123" and request["status"] == "open"


def test_a_declined_contact_keeps_no_details_and_says_how_to_reach_the_clinic(database):
    slots = {"contact_method": "phone", "contact_value": "07700 900123", "contact_consent": "no"}
    result, messages = run(ActionRecordHandoff(), make_tracker([action("action_listen"), user("no", "deny")], slots))
    assert [m["response"] for m in messages] == ["utter_handoff_not_passed_on"]
    assert result == [SlotSet(s, None) for s in slots]
    [request] = rows(database, "handoff_requests")
    assert request["contact_value"] == "" and not request["consented"]


def _after_the_outcome(question: str, intent: str = "ask_plan_detail"):
    events = _self_care_conversation()
    _, messages = run(ActionTriageOutcome(), make_tracker(events))
    events += [action("action_triage_outcome"), *(bot(m["text"], custom=m.get("custom")) for m in messages),
               action("action_listen"), user(question, intent)]
    return run(ActionExplainPlan(), make_tracker(events))


def test_tell_me_more_about_a_step_of_the_plan_given():
    result, messages = _after_the_outcome("tell me more about step 4")
    assert result == []
    assert messages[0]["text"].startswith("Ease a cramp when it comes:") and "Rub the muscle" in messages[0]["text"]
    assert messages[0]["custom"]["explanation"]["topic"] == "cramp_relief"
    assert all(len(m["text"]) <= 600 for m in messages)


def test_why_explains_the_presentation_behind_the_plan():
    _, messages = _after_the_outcome("why?")
    assert messages[0]["text"].startswith("Why this plan: Night cramps are common")
    assert "tibial nerve" in " ".join(m["text"] for m in messages)


def test_a_question_about_the_plan_before_there_is_one_says_a_plan_comes():
    _, messages = run(ActionExplainPlan(), make_tracker([action("action_listen"), user("why?", "ask_plan_detail")]))
    assert messages[0]["text"].startswith("Once I have asked my questions")
