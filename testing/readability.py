"""Every message the bot can say, gathered from where it is written, and its reading grade
(Flesch-Kincaid, textstat 0.7.8). Shared by tests/knowledge/test_readability.py and
benchmarks/readability.py."""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import textstat
import yaml

from clinic.settings import contact_details
from knowledge.conversation import ConversationState
from knowledge.explain import explain
from knowledge.follow_up import check_in_for, check_in_messages
from knowledge.messages import (
    escalation_message,
    outcome_messages,
    proxy_message,
    question_message,
    response_values,
    which_message,
)
from knowledge.model import Knowledge, knowledge
from knowledge.plan_detail import answer_messages, plan_detail_messages
from knowledge.triage import PRESENT, evaluate

RESPONSES = Path(__file__).resolve().parent.parent / "bot" / "domain" / "responses.yml"
# Ordinary presentations (presentations.yaml), alone and two together: what most patients get.
TYPICAL = {
    "back strain": {"back_pain": PRESENT},
    "night cramps": {"night_cramps": PRESENT, "calf_cramps": PRESENT},
    "tight calves": {"calf_tension": PRESENT},
    "pulled calf": {"calf_pain": PRESENT, "minor_fall": PRESENT},
    "sore after a run": {"calf_pain": PRESENT, "recent_exercise": PRESENT},
    "sciatica": {"sciatica": PRESENT, "back_pain": PRESENT},
    "walking calf pain": {"calf_pain": PRESENT, "claudication_pattern": PRESENT},
    "numb foot": {"leg_numbness": PRESENT},
    "back pain for months": {"back_pain": PRESENT, "persistent_pain": PRESENT},
    "tight calves in heels with back pain": {"calf_tension": PRESENT, "high_heels": PRESENT, "back_pain": PRESENT},
    "night cramps and back pain": {"night_cramps": PRESENT, "back_pain": PRESENT},
}
PLAN_QUESTIONS = ("why?", *(f"tell me more about step {n}" for n in range(1, 6)))
_MARKUP = re.compile(r"^\s*(?:[-*•]|\d+\.)\s*", re.MULTILINE)


@dataclass(frozen=True)
class Message:
    where: str
    text: str

    @property
    def plain(self) -> str:
        """The text as read: list markers dropped, each line a sentence."""
        lines = [line.strip() for line in _MARKUP.sub("", self.text).splitlines() if line.strip()]
        return " ".join(line if line[-1] in ".?!:" else line + "." for line in lines)

    @property
    def grade(self) -> float:
        return textstat.flesch_kincaid_grade(self.plain)


def _responses(contact: dict) -> list[Message]:
    fill = defaultdict(str, response_values(contact))
    data = yaml.safe_load(RESPONSES.read_text(encoding="utf-8"))["responses"]
    return [Message(f"responses.yml {name}", variant["text"].format_map(fill))
            for name, variants in data.items() for variant in variants if variant.get("text")]


def _firing(rule) -> dict[str, str]:
    return {group[0]: PRESENT for group in rule.when}


def every_message(k: Knowledge | None = None) -> list[Message]:
    k = k or knowledge()
    contact = contact_details()
    messages = _responses(contact)
    messages.append(Message("proxy question", proxy_message(k)["text"]))
    messages += [Message(f"channel notice {name}", text.format_map(defaultdict(str, contact)))
                 for name, text in k.advice["channel_notices"].items()]
    for question in k.questions:
        messages.append(Message(f"question {question.id}", question_message(question, {}, k)["text"]))
        if len(question.items) > 1:
            messages.append(Message(f"which of {question.id}", which_message(question, list(question.items), k)["text"]))
    for rule in k.rules:
        findings = _firing(rule)
        outcome = evaluate(findings, k)
        if outcome.is_escalation:
            messages.append(Message(f"escalation {rule.id}", escalation_message(outcome, contact, findings, k)["text"]))
        else:
            for index, message in enumerate(outcome_messages(ConversationState(findings=findings), contact, k)):
                messages.append(Message(f"outcome {rule.id} #{index + 1}", message["text"]))
    for name, findings in TYPICAL.items():
        outcome = outcome_messages(ConversationState(findings=dict(findings)), contact, k)
        for index, message in enumerate(outcome):
            messages.append(Message(f"outcome {name} #{index + 1}", message["text"]))
        triage = outcome[0]["custom"]["triage"]
        for question in PLAN_QUESTIONS:
            for index, message in enumerate(plan_detail_messages(question, triage, k)):
                messages.append(Message(f"plan answer {name} {question!r} #{index + 1}", message["text"]))
    for name, findings in TYPICAL.items():
        plan = check_in_for(findings, k)
        if plan:
            for index, message in enumerate(check_in_messages(plan.presentation, plan.presentations, plan.after_days,
                                                              plan.level, contact, k)):
                messages.append(Message(f"check-in {name} #{index + 1}", message["text"]))
    for node in k.nodes:
        for index, message in enumerate(answer_messages(node, explain(node, k))):
            messages.append(Message(f"explanation {node} #{index + 1}", message["text"]))
    messages += [Message(f"plan answer {key}", k.frames[key].format(count=5)) for key in ("plan_none", "plan_no_step")]
    unique: dict[str, Message] = {}
    for message in messages:
        unique.setdefault(message.text, message)
    return list(unique.values())
