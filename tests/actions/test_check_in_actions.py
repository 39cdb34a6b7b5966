"""The check-in offer and its reply: a Tracker in, the exact events and responses out, the row in
the database. Off unless configured; a number is asked for where the clinic cannot write later."""
import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from rasa_sdk.events import SlotSet

from actions import common
from actions.follow_up import ActionFollowUp, ActionOfferFollowUp, check_in_date
from tests.actions.conftest import make_tracker, rows
from tests.conversation_events import action, bot, slot, user

NOW = datetime(2026, 11, 24, 10, 30, tzinfo=timezone.utc)


def run(action_, tracker):
    from tests.actions.conftest import run as run_action

    return asyncio.run(run_action(action_, tracker))


@pytest.fixture(autouse=True)
def follow_ups_on(monkeypatch):
    import actions.follow_up

    monkeypatch.setenv("CLINIC_FOLLOW_UPS_ENABLED", "true")
    monkeypatch.setattr(actions.follow_up, "now", lambda: NOW)


def back_pain_outcome(channel: str = "rest") -> list[dict]:
    events = [action("action_listen"), {**user("my lower back aches after gardening"), "input_channel": channel}]
    for question in ("cauda_equina", "major_trauma"):
        events += [slot("requested_slot", question), bot(ask=question), action("action_listen"),
                   {**user("no", "deny"), "input_channel": channel}]
    return events + [action("action_triage_outcome"), bot("self-care")]


def offered(channel: str = "rest") -> list[dict]:
    return back_pain_outcome(channel) + [action("action_offer_follow_up"), slot("follow_up", "offered"),
                                         bot("check in?", ask="follow_up"), action("action_listen")]


def reply(events: list[dict], text: str, intent: str, channel: str = "rest") -> list[dict]:
    return events + [{**user(text, intent), "input_channel": channel}]


def test_the_offer_names_the_wait_from_the_presentation():
    events, messages = run(ActionOfferFollowUp(), make_tracker(back_pain_outcome()))
    assert events == [SlotSet("follow_up", "offered")]
    assert messages[0]["response"] == "utter_offer_follow_up" and messages[0]["check_in_after"] == "2 weeks"


def test_no_offer_when_check_ins_are_off(monkeypatch):
    monkeypatch.delenv("CLINIC_FOLLOW_UPS_ENABLED")
    assert run(ActionOfferFollowUp(), make_tracker(back_pain_outcome())) == ([], [])


def test_no_offer_for_an_urgent_outcome():
    events = [action("action_listen"), user("my calf is swollen and painful"), action("utter_escalation")]
    assert run(ActionOfferFollowUp(), make_tracker(events)) == ([], [])


def test_yes_on_the_website_asks_for_a_mobile_number_and_stores_nothing_yet(database):
    events, messages = run(ActionFollowUp(), make_tracker(reply(offered(), "yes please", "affirm")))
    assert events == [SlotSet("follow_up", "ask_phone")]
    assert [m["response"] for m in messages] == ["utter_ask_follow_up_phone"]
    assert rows(database, "follow_ups") == []


def test_the_number_is_stored_in_e164_with_the_due_date_and_confirmed(database):
    tracker = make_tracker(reply(offered(), "yes, text me on 07911 123456", "affirm"))
    events, messages = run(ActionFollowUp(), tracker)
    assert events == [SlotSet("follow_up", "scheduled")]
    assert messages == [{**messages[0], "response": "utter_follow_up_scheduled_sms",
                         "check_in_date": "Tuesday 8 December"}]
    [row] = rows(database, "follow_ups")
    assert (row["contact_method"], row["contact_value"], row["status"]) == ("sms", "+447911123456", "scheduled")
    assert (row["presentation"], row["level"], row["after_days"], row["channel"]) == \
        ("low_back_pain", "self_care", 14, "rest")
    assert row["due_at"].startswith(str((NOW + timedelta(days=14)).replace(tzinfo=None)))


def test_yes_in_a_telegram_chat_is_sent_there_with_no_number_kept(database):
    events = offered("telegram")
    tracker = make_tracker(reply(events, "yes", "affirm", "telegram"), sender="telegram:5550001")
    result, messages = run(ActionFollowUp(), tracker)
    assert result == [SlotSet("follow_up", "scheduled")]
    assert messages[0]["response"] == "utter_follow_up_scheduled_chat"
    [row] = rows(database, "follow_ups")
    assert (row["contact_method"], row["contact_value"], row["conversation_id"]) == ("chat", "", "telegram:5550001")


def test_whatsapp_cannot_be_written_to_weeks_later_so_a_number_is_asked_for(database):
    tracker = make_tracker(reply(offered("twilio"), "yes", "affirm", "twilio"), sender="twilio:whatsapp:+447911123456")
    result, messages = run(ActionFollowUp(), tracker)
    assert result == [SlotSet("follow_up", "ask_phone")] and rows(database, "follow_ups") == []


def test_an_unreadable_number_is_asked_for_once_more_then_dropped(database):
    events = offered() + [user("yes", "affirm"), action("action_follow_up"), slot("follow_up", "ask_phone"),
                          bot(ask="follow_up_phone"), action("action_listen")]
    result, messages = run(ActionFollowUp(), make_tracker(reply(events, "12345", "give_contact")))
    assert result == [SlotSet("follow_up", "ask_phone_again")]
    assert messages[0]["response"] == "utter_follow_up_phone_not_understood"
    events += [user("12345", "give_contact"), action("action_follow_up"), slot("follow_up", "ask_phone_again"),
               bot(ask="follow_up_phone"), action("action_listen")]
    result, messages = run(ActionFollowUp(), make_tracker(reply(events, "my landline 020 7946 0018", "give_contact")))
    assert result == [SlotSet("follow_up", "declined")]
    assert messages[0]["response"] == "utter_follow_up_phone_given_up"
    assert rows(database, "follow_ups") == []


@pytest.mark.parametrize("text", ["no thanks", "/deny"])
def test_no_ends_it_and_keeps_nothing(database, text):
    result, messages = run(ActionFollowUp(), make_tracker(reply(offered(), text, "deny")))
    assert result == [SlotSet("follow_up", "declined")]
    assert messages[0]["response"] == "utter_follow_up_declined" and rows(database, "follow_ups") == []


def test_a_storage_failure_says_so_and_how_to_reach_the_clinic(monkeypatch):
    class Broken:
        def record_follow_up(self, **fields):
            raise RuntimeError("database down")

    monkeypatch.setattr(common, "repository", lambda: Broken())
    result, messages = run(ActionFollowUp(), make_tracker(reply(offered(), "yes 07911 123456", "affirm")))
    assert result == [SlotSet("follow_up", "not_saved")]
    assert messages[0]["response"] == "utter_follow_up_not_saved" and messages[0]["check_in_after"] == "2 weeks"


def test_asking_again_replaces_the_check_in_still_scheduled(database):
    run(ActionFollowUp(), make_tracker(reply(offered(), "yes 07911 123456", "affirm")))
    run(ActionFollowUp(), make_tracker(reply(offered(), "yes, 07700 123456 is better", "affirm")))
    statuses = sorted((row["status"], row["contact_value"]) for row in rows(database, "follow_ups"))
    assert statuses == [("cancelled", ""), ("scheduled", "+447700123456")]


def test_the_date_is_the_clinics_local_day():
    late = datetime(2026, 6, 10, 23, 30, tzinfo=timezone.utc)   # 00:30 on Thursday 11 June in London (BST)
    assert check_in_date(late) == "Thursday 11 June"
