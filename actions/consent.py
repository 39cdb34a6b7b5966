"""Consent to keep the conversation for the clinic's staff."""
from __future__ import annotations

from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import now, remind_of_emergency, store


class ActionRecordConsent(Action):
    def name(self) -> Text:
        return "action_record_consent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        consented = bool(tracker.get_slot("consent"))
        store("consent", lambda repo, **f: repo.record_consent(**f), conversation_id=tracker.sender_id,
              consented=consented, channel=tracker.get_latest_input_channel(), at=now())
        dispatcher.utter_message(response="utter_consent_given" if consented else "utter_consent_declined")
        remind_of_emergency(dispatcher, tracker)
        return [SlotSet("consent", consented)]
