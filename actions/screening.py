"""The red-flag screen (triage_form) and its outcome."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import conversation, last_user_timestamp, now, store
from actions.forms import ConversationFormValidation
from clinic.settings import contact_details
from knowledge.conversation import PROXY_QUESTION, ConversationState
from knowledge.messages import outcome_messages
from knowledge.model import knowledge
from knowledge.triage import KNOWN, SUGGESTED
from knowledge.turns import turns_from_events
from storage.transcript import outcome_event_key

COMPLAINT = "complaint"
NO_COMPLAINT = "none"
COMPLAINT_ATTEMPTS = 2   # "tell me in your own words" is not asked a third time
# Messages that carry screen information. Anything else (a question, asking for a person) goes
# to the rules that handle it, though its findings still count (the conversation is read whole).
SCREEN_INTENTS = {"describe_symptoms", "affirm", "deny", "unsure"}


def _said_something_new(tracker: Tracker) -> bool:
    turns = turns_from_events(tracker.events)
    return bool(turns and turns[-1].mentions and turns[-1].intent in SCREEN_INTENTS)


class ValidateTriageForm(ConversationFormValidation):
    """Asks the still-unanswered screening questions, most dangerous first (knowledge.triage)."""

    def name(self) -> Text:
        return "validate_triage_form"

    def missing(self, state: ConversationState, tracker: Tracker) -> List[Text]:
        if state.someone_else_described:
            return [PROXY_QUESTION]
        if not state.complaints and tracker.get_slot(COMPLAINT) is None:
            confirming = [q.id for q in state.outcome().pending
                          if any(state.findings.get(item) == SUGGESTED for item in q.items)]
            return confirming[:1] if state.signs_to_confirm and confirming else [COMPLAINT]
        outcome = state.outcome()
        if outcome.level == "emergency":
            return []
        return [question.id for question in outcome.pending]

    def extract(self, state: ConversationState, tracker: Tracker,
                dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        values: Dict[Text, Any] = {}
        turns = turns_from_events(tracker.events)
        latest = turns[-1] if turns else None
        k = knowledge()
        if state.proxy is not None:
            values[PROXY_QUESTION] = "yes" if state.proxy else "no"
        if state.complaints:
            values[COMPLAINT] = ", ".join(k.findings[f].label for f in state.complaints)
        elif latest and latest.asked == COMPLAINT and (
                latest.polarity == "deny" or state.asked.count(COMPLAINT) >= COMPLAINT_ATTEMPTS):
            values[COMPLAINT] = NO_COMPLAINT   # nothing to screen; the outcome says what to do
        for question in k.questions:
            status = state.findings.get(question.screen_finding)
            if status in KNOWN:
                values[question.id] = status
        if _said_something_new(tracker):
            values["findings"] = dict(state.findings)
        return values


class ActionTriageOutcome(Action):
    """The decision at the end of the screen: level and reason, explanation, plan, safety-net."""

    def name(self) -> Text:
        return "action_triage_outcome"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        state = conversation(tracker)
        if not state.complaints:
            dispatcher.utter_message(response="utter_no_complaint")
            return [SlotSet(COMPLAINT, None)]
        contact = contact_details()
        key = outcome_event_key(last_user_timestamp(tracker))
        messages = outcome_messages(state, contact)
        for message in messages:
            custom = message.get("custom") or {}
            if "triage" in custom:
                custom["triage"]["event_key"] = key
            dispatcher.utter_message(text=message["text"], json_message=custom or None)
        triage = next(m["custom"]["triage"] for m in messages if "triage" in (m.get("custom") or {}))
        record_outcome(tracker, triage, state)
        return [SlotSet("findings", dict(state.findings))]


class ActionRecordOutcome(Action):
    """Stores the emergency/urgent advice the Rasa server has just given (utter_escalation)."""

    def name(self) -> Text:
        return "action_record_outcome"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        for event in reversed(tracker.events):
            triage = ((event.get("data") or {}).get("custom") or {}).get("triage") if event.get("event") == "bot" else None
            if triage:
                record_outcome(tracker, triage, conversation(tracker))
                break
        return [SlotSet("findings", dict(conversation(tracker).findings))]


def record_outcome(tracker: Tracker, triage: Dict[Text, Any], state: ConversationState) -> bool:
    return store("a triage outcome", lambda repo, **f: repo.record_outcome(**f),
                 conversation_id=tracker.sender_id, level=triage["level"], red_flags=triage["red_flags"],
                 rules=triage["rules"], protocol_version=triage["protocol_version"], plan=triage["plan"],
                 reason=triage.get("reason", ""), findings=dict(state.findings),
                 channel=tracker.get_latest_input_channel(), created_at=now(),
                 event_key=triage.get("event_key") or outcome_event_key(last_user_timestamp(tracker)),
                 sources=triage.get("sources"))
