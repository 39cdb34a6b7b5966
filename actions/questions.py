"""Questions about the body and the plan, answered from the knowledge graph at any point."""
from __future__ import annotations

from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import remind_of_emergency
from knowledge.explain import explain, pick_topic, topic_for_findings
from knowledge.plan_detail import answer_messages, latest_outcome, plan_detail_messages


class ActionAnswerQuestion(Action):
    def name(self) -> Text:
        return "action_answer_question"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        entities = tracker.latest_message.get("entities") or []
        topics = [e.get("value") for e in entities if e.get("entity") == "topic"]
        mentioned = {e.get("value"): "present" for e in entities if e.get("entity") == "finding"}
        topic = pick_topic(topics) or topic_for_findings(mentioned) or ""
        for message in answer_messages(topic or None, explain(topic)):
            dispatcher.utter_message(text=message["text"], json_message=message["custom"])
        remind_of_emergency(dispatcher, tracker)
        return []


class ActionExplainPlan(Action):
    """"Tell me more about step N" / "why?" about the plan the patient was given."""

    def name(self) -> Text:
        return "action_explain_plan"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        for message in plan_detail_messages(text, latest_outcome(tracker.events)):
            dispatcher.utter_message(text=message["text"], json_message=message.get("custom"))
        remind_of_emergency(dispatcher, tracker)
        return []
