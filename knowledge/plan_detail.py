"""After an outcome: "tell me more about step N" and "why?", answered from the knowledge.

The outcome's own record (custom.triage in the conversation: the plan's step ids and the
presentations) says which plan the patient got, so the answer is about that plan even if the
data has changed since. Each answer is one message of at most MAX_MESSAGE_CHARS: the most
important sentences, then whose view it is.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from knowledge.explain import Answer, explain
from knowledge.messages import MAX_MESSAGE_CHARS, split_message
from knowledge.model import Knowledge, knowledge
from knowledge.plan import SAFETY_NET

NUMBER_WORDS = {"one": 1, "first": 1, "1st": 1, "two": 2, "second": 2, "2nd": 2, "three": 3, "third": 3, "3rd": 3,
                "four": 4, "fourth": 4, "4th": 4, "five": 5, "fifth": 5, "5th": 5, "last": -1}
_STEP = re.compile(r"\b(?:step|number|no\.?|point|#)\s*(\d+|[a-z0-9]+)\b|\b(\d+|first|second|third|fourth|fifth|"
                   r"1st|2nd|3rd|4th|5th|last)\s+(?:step|one|point)\b|^\s*#?(\d)\s*\??\s*$", re.IGNORECASE)


def step_number(text: str) -> int | None:
    """The step a message asks about ("tell me more about step 2", "the third one", "last step"):
    1-based, -1 for the last, None if it names none."""
    for match in _STEP.finditer(text or ""):
        word = next(group for group in match.groups() if group).lower()
        number = int(word) if word.isdigit() else NUMBER_WORDS.get(word)
        if number is not None:
            return number
    return None


def latest_outcome(events: Iterable[dict[str, Any]]) -> dict | None:
    """The custom.triage record of the latest outcome the bot gave, if any."""
    latest = None
    for event in events:
        if event.get("event") == "bot":
            triage = ((event.get("data") or {}).get("custom") or {}).get("triage")
            if isinstance(triage, dict):
                latest = triage
    return latest


def _explanation(topic: str | None, sentences: list[str], sources: list[str]) -> list[dict]:
    return [{"text": text, "custom": {"explanation": {"topic": topic, "sources": sources}}}
            for text in split_message(sentences, MAX_MESSAGE_CHARS, sep=" ")]


def answer_messages(topic: str | None, answer: Answer) -> list[dict]:
    """An explanation as messages of at most MAX_MESSAGE_CHARS, split between sentences."""
    return _explanation(topic, answer.sentences, answer.sources)


def _one_message(topic: str, sentences: list[str], sources: list[str], k: Knowledge) -> list[dict]:
    """An answer to a question about the plan: as many sentences as fit one message, then whose
    view it is (the graph's last sentence)."""
    *body, view = sentences
    kept: list[str] = []
    for sentence in body:
        if len(" ".join([*kept, sentence, view])) > MAX_MESSAGE_CHARS:
            break
        kept.append(sentence)
    return _explanation(topic, [*kept, view], sources)


def plan_detail_messages(text: str, outcome: dict | None, k: Knowledge | None = None) -> list[dict]:
    """Messages answering a question about the plan: the step asked about, else why this plan."""
    k = k or knowledge()
    steps = [s for s in (outcome or {}).get("plan", []) if s != SAFETY_NET and s in k.nodes]
    if not steps:
        return [{"text": k.frames["plan_none"]}]
    number = step_number(text)
    if number is not None:
        if not (number == -1 or 1 <= number <= len(steps)):
            return [{"text": k.frames["plan_no_step"].format(count=len(steps))}]
        step = steps[number - 1] if number > 0 else steps[-1]
        answer = explain(step, k)
        return _one_message(step, answer.sentences, answer.sources, k)
    presentations = [k.presentations[p] for p in outcome.get("presentations", []) if p in k.presentations]
    sentences = [k.frames["plan_why"].format(why=" ".join(p.why for p in presentations))] if presentations else []
    topic = next((p.explained_by for p in presentations if p.explained_by), "")
    sources = list(dict.fromkeys(c.doc for p in presentations for c in p.sources))
    if topic:
        answer = explain(topic, k)
        sentences += answer.sentences
        sources += [s for s in answer.sources if s not in sources]
    if not topic:
        sentences.append(k.frames["guidance_view"])
    return _one_message(topic or "plan", sentences, sources, k)
