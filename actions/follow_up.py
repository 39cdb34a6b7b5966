"""A check-in after the expected course: offered after a self-care or routine outcome (bot/flow.py
decides when), set up only with the patient's yes and a contact they give, stored for the sender
(`python -m bot.followups send-due`). Off unless CLINIC_FOLLOW_UPS_ENABLED is set."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, List, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import conversation, now, store
from clinic.settings import get_settings
from knowledge.follow_up import (
    ASK_PHONE,
    ASK_PHONE_AGAIN,
    DECLINED,
    NOT_SAVED,
    OFFERED,
    PHONE_LIKE,
    SCHEDULED,
    SLOT,
    CheckInPlan,
    check_in_for,
    open_question,
    wait_words,
)
from knowledge.turns import turns_from_events
from storage.followups import find_mobile, reachable_in_chat


class ActionOfferFollowUp(Action):
    """After the outcome: would the patient like a check-in? Says nothing when check-ins are off
    or none fits the outcome."""

    def name(self) -> Text:
        return "action_offer_follow_up"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if not get_settings().follow_ups_enabled:
            return []
        plan = check_in_for(conversation(tracker).findings)
        if plan is None:
            return []
        dispatcher.utter_message(response="utter_offer_follow_up", check_in_after=wait_words(plan.after_days))
        return [SlotSet(SLOT, OFFERED)]


class ActionFollowUp(Action):
    """The reply to the offer, or to "what number should we text?": a no ends it; a yes in a chat
    the clinic can write to later sets it up there; otherwise a mobile number is needed (asked
    twice at most)."""

    def name(self) -> Text:
        return "action_follow_up"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        question = open_question(tracker.events) or tracker.get_slot(SLOT)
        turns = turns_from_events(tracker.events)
        text = turns[-1].text if turns else ""
        polarity = turns[-1].polarity if turns else None
        number = find_mobile(text, get_settings().phone_region)
        plan = check_in_for(conversation(tracker).findings)
        if plan is None or (polarity == "deny" and not number):
            dispatcher.utter_message(response="utter_follow_up_declined")
            return [SlotSet(SLOT, DECLINED)]
        if number:
            return self._schedule(dispatcher, tracker, plan, "sms", number)
        if question == OFFERED and not PHONE_LIKE.search(text):
            if reachable_in_chat(tracker.get_latest_input_channel(), tracker.sender_id):
                return self._schedule(dispatcher, tracker, plan, "chat", "")
            dispatcher.utter_message(response="utter_ask_follow_up_phone")
            return [SlotSet(SLOT, ASK_PHONE)]
        if question == ASK_PHONE_AGAIN:
            dispatcher.utter_message(response="utter_follow_up_phone_given_up")
            return [SlotSet(SLOT, DECLINED)]
        dispatcher.utter_message(response="utter_follow_up_phone_not_understood")
        return [SlotSet(SLOT, ASK_PHONE_AGAIN)]

    def _schedule(self, dispatcher: CollectingDispatcher, tracker: Tracker, plan: CheckInPlan, method: str,
                  number: str) -> List[EventType]:
        created = now()
        stored = store("a check-in", lambda repo, **fields: repo.record_follow_up(**fields),
                       conversation_id=tracker.sender_id, channel=tracker.get_latest_input_channel(),
                       contact_method=method, contact_value=number, presentation=plan.presentation,
                       presentations=list(plan.presentations), level=plan.level, after_days=plan.after_days,
                       created_at=created)
        if not stored:
            dispatcher.utter_message(response="utter_follow_up_not_saved", check_in_after=wait_words(plan.after_days))
            return [SlotSet(SLOT, NOT_SAVED)]
        confirmation = "utter_follow_up_scheduled_sms" if method == "sms" else "utter_follow_up_scheduled_chat"
        dispatcher.utter_message(response=confirmation,
                                 check_in_date=check_in_date(created + timedelta(days=plan.after_days)))
        return [SlotSet(SLOT, SCHEDULED)]


def check_in_date(due: datetime, zone: Any = None) -> str:
    """"Tuesday 17 March", in the clinic's time zone."""
    local = due.astimezone(zone or ZoneInfo(get_settings().clinic_timezone))
    return f"{local:%A} {local.day} {local:%B}"
