"""One base class for the forms: slots are read from the whole conversation, not one message.

Rasa's SDK extracts slots one message at a time and then drops those no longer required; here
an answered question is by definition no longer required, so the base class runs the form
itself: read the conversation (knowledge.conversation), set the slots that changed, and name the
next slot to ask.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import conversation
from knowledge.conversation import ConversationState
from knowledge.turns import INTENTS_WITH_OWN_RULES, read_intent


class ConversationFormValidation(FormValidationAction):
    @abstractmethod
    def extract(self, state: ConversationState, tracker: Tracker,
                dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        """Slot values the conversation now supports (unchanged ones are ignored)."""

    @abstractmethod
    def missing(self, state: ConversationState, tracker: Tracker) -> List[Text]:
        """Slots still to ask, in order."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        state = conversation(tracker)
        values = self.extract(state, tracker, dispatcher)
        changed = {slot: value for slot, value in values.items() if tracker.get_slot(slot) != value}
        tracker.slots.update(changed)
        pending = [slot for slot in self.missing(state, tracker) if tracker.get_slot(slot) is None]
        events = [SlotSet(slot, value) for slot, value in changed.items()]
        asked = tracker.get_slot("requested_slot")
        intent = read_intent((tracker.latest_message.get("intent") or {}).get("name"), tracker.latest_message.get("text") or "")
        if not events and asked in pending and intent not in INTENTS_WITH_OWN_RULES:
            # An answer that says nothing new: say so to Rasa (which would otherwise reject the form
            # and leave the patient with no reply); the question is asked again, and after a second
            # reply that answers nothing the conversation reads it as "not sure" and moves on. A
            # question, a request for a person or small talk is rejected as before, so its rule runs.
            events.append(SlotSet(asked, None))
        return events + [SlotSet("requested_slot", pending[0] if pending else None)]
