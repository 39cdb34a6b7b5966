"""Handoff to a person: how to reach the patient, with their consent, recorded for the staff queue."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import conversation, emergency_announced, now, store
from actions.forms import ConversationFormValidation
from clinic.hours import OpeningHours
from clinic.settings import get_settings
from knowledge.conversation import ConversationState
from knowledge.turns import turns_from_events
from storage.redaction import find_email, find_phone_number

SLOTS = ("contact_method", "contact_value", "contact_consent")
PHONE_WORDS = ("phone", "call", "ring", "mobile", "text", "number", "landline", "sms")
EMAIL_WORDS = ("email", "e-mail", "mail")


def _method_named(text: str) -> str | None:
    lowered = text.lower()
    if any(word in lowered for word in EMAIL_WORDS):
        return "email"
    if any(word in lowered for word in PHONE_WORDS):
        return "phone"
    return None


class ValidateHandoffForm(ConversationFormValidation):
    def name(self) -> Text:
        return "validate_handoff_form"

    def missing(self, state: ConversationState, tracker: Tracker) -> List[Text]:
        return list(SLOTS)

    def extract(self, state: ConversationState, tracker: Tracker,
                dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        turns = turns_from_events(tracker.events)
        if not turns:
            return {}
        latest = turns[-1]
        text = latest.text or ""
        values: Dict[Text, Any] = {}
        email, phone = find_email(text), find_phone_number(text)
        if email:
            values.update(contact_method="email", contact_value=email)
        elif phone:
            values.update(contact_method="phone", contact_value=phone)
        elif latest.asked == "contact_method" and _method_named(text):
            values["contact_method"] = _method_named(text)
        elif latest.asked == "contact_value":
            dispatcher.utter_message(response="utter_contact_not_understood")
        if latest.asked == "contact_consent" and latest.polarity in ("affirm", "deny"):
            values["contact_consent"] = "yes" if latest.polarity == "affirm" else "no"
        return values


class ActionRecordHandoff(Action):
    def name(self) -> Text:
        return "action_record_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        consented = tracker.get_slot("contact_consent") == "yes"
        contact_value = (tracker.get_slot("contact_value") or "") if consented else ""
        outcome = conversation(tracker).outcome()
        stored = store("a callback request", lambda repo, **f: repo.record_handoff(**f),
                       conversation_id=tracker.sender_id, contact_method=tracker.get_slot("contact_method") or "",
                       contact_value=contact_value,
                       consented=consented, level=outcome.level, channel=tracker.get_latest_input_channel(),
                       created_at=now())
        settings = get_settings()
        hours = OpeningHours.parse(settings.clinic_hours, settings.clinic_timezone)
        if not consented:
            dispatcher.utter_message(response="utter_handoff_not_passed_on")
        elif not stored:
            dispatcher.utter_message(response="utter_handoff_call_us")
        elif hours.is_open(now()):
            dispatcher.utter_message(response="utter_handoff_recorded_open")
        else:
            dispatcher.utter_message(response="utter_handoff_recorded_closed",
                                     out_of_hours=settings.out_of_hours_message + ".")
        if emergency_announced(tracker):
            dispatcher.utter_message(response="utter_emergency_reminder")
        return [SlotSet(slot, None) for slot in SLOTS]
