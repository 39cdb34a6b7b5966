"""Response generation in the Rasa server: domain responses plus messages rendered from knowledge/.

Configured in bot/endpoints.yml (nlg: type: bot.nlg.ClinicNLG). It renders, without the action
server, everything that must survive an action-server failure:
- utter_escalation: the emergency/urgent advice for the current findings;
- utter_ask_<question>: screening questions naming only what is still unknown;
- utter_degraded: the apology when the action server failed, with the current level's advice
  and what to watch for;
and fills {emergency_number}, {clinic_phone}, ... in every domain response from clinic settings.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from clinic.settings import contact_details
from knowledge.conversation import PROXY_QUESTION, state_from_events
from knowledge.messages import escalation_message, proxy_message, question_message, response_values, safety_net_message
from knowledge.model import knowledge
from knowledge.triage import PRESENT, WHICH


class ClinicNLG(TemplatedNaturalLanguageGenerator):
    def __init__(self, endpoint_config: Any = None, domain: Optional[Domain] = None, **kwargs: Any) -> None:
        super().__init__((domain or Domain.empty()).responses)

    async def generate(self, utter_action: Text, tracker: DialogueStateTracker, output_channel: Text,
                       **kwargs: Any) -> Optional[Dict[Text, Any]]:
        k = knowledge()
        contact = contact_details()
        if utter_action in ("utter_escalation", "utter_degraded") or utter_action.startswith("utter_ask_"):
            state = state_from_events([event.as_dict() for event in tracker.events], k)
            question_id = utter_action.removeprefix("utter_ask_")
            if utter_action == "utter_escalation":
                return escalation_message(state.outcome(k), contact, state.findings, k)
            if utter_action == "utter_degraded":
                return self._degraded(state, contact, tracker, output_channel)
            if question_id == PROXY_QUESTION:
                return proxy_message(k)
            if any(q.id == question_id for q in k.questions):
                return question_message(k.question(question_id), state.findings, k)
        values = {**tracker.current_slot_values(), **response_values(contact, k)}
        return self.generate_from_slots(utter_action, values, output_channel, **kwargs)

    def _degraded(self, state, contact, tracker, output_channel) -> Dict[Text, Any]:
        # A "yes" still waiting for "which of these?" counts as yes here: the question may never come.
        state.findings = {f: (PRESENT if status == WHICH else status) for f, status in state.findings.items()}
        outcome = state.outcome()
        apology = self.generate_from_slots("utter_degraded", contact, output_channel) or {"text": ""}
        advice = escalation_message(outcome, contact, state.findings) if outcome.is_escalation else None
        net = safety_net_message(state.findings, outcome, contact)
        parts = [apology["text"], advice["text"] if advice else "", net["text"]]
        return {"text": "\n\n".join(p for p in parts if p), "custom": {"degraded": True}}
