"""The knowledge's typed, immutable objects (knowledge/loader.py reads and validates the data
files into them). Nothing here knows about Rasa.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
DATA_FILES = ("sources.yaml", "graph.yaml", "lexicon.yaml", "findings.yaml", "red_flags.yaml",
              "advice.yaml", "plan.yaml", "presentations.yaml", "explanations.yaml")
LEVELS = ("emergency", "urgent", "routine", "self_care")     # red_flags.yaml `levels`, most urgent first
# Levels whose advice is given at once, at any turn, interrupting whatever is going on.
ESCALATING_LEVELS = LEVELS[:2]
NODE_TYPES = ("muscle", "muscle_group", "nerve", "nerve_root", "bone", "tendon", "joint", "movement",
              "condition", "symptom", "habit", "self_care_step")
FINDING_KINDS = ("symptom", "risk", "habit")
# How long the back pain has lasted decides whether it is long-standing (lexicon thresholds.persistent_weeks).
TIMED_COMPLAINT, LONG_STANDING = "back_pain", "persistent_pain"
CONCEPT_ID = re.compile(r"^[a-z_]+\.[a-z_]+$")
SCREEN_PREFIX = "screen."


class KnowledgeError(ValueError):
    """The knowledge data is malformed; the message names the file and entry."""


@dataclass(frozen=True)
class Citation:
    doc: str
    claim: str


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    publisher: str
    location: str


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    name: str
    about: str
    aliases: tuple[str, ...]
    source: Citation


@dataclass(frozen=True)
class Relation:
    subject: str
    relation: str
    object: str
    source: Citation
    qualifier: str = ""


@dataclass(frozen=True)
class RelationType:
    id: str
    subject_types: tuple[str, ...]
    object_types: tuple[str, ...]
    says: str


@dataclass(frozen=True)
class DetectRule:
    """Concept groups that must co-occur; each group is a tuple of alternatives. First = anchor."""
    all: tuple[tuple[str, ...], ...]
    none: tuple[str, ...] = ()
    scope: str = "clause"
    suggestive: bool = False     # an ambiguous wording: the flag's confirming question decides
    bare: bool = False           # a body part on its own: the complaint, unless asked about ("what is the soleus?")


@dataclass(frozen=True)
class Finding:
    id: str
    label: str
    ask: str
    kind: str
    detect: tuple[DetectRule, ...]
    history_ok: bool = False
    implies: tuple[str, ...] = ()
    explained_by: str = ""
    named_by: tuple[str, ...] = ()   # words that name it in a reply to a question about it


@dataclass(frozen=True)
class TriageRule:
    id: str
    flag: str
    level: str
    when: tuple[tuple[str, ...], ...]
    unless: tuple[str, ...] = ()


@dataclass(frozen=True)
class Question:
    id: str
    flag: str
    intro: str
    items: tuple[str, ...]
    applies_if: tuple[tuple[str, ...], ...]

    @property
    def screen_finding(self) -> str:
        return SCREEN_PREFIX + self.id


@dataclass(frozen=True)
class RedFlag:
    id: str
    level: str
    name: str
    why: str
    watch_for: str
    sources: tuple[str, ...]
    rules: tuple[TriageRule, ...]
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class PlanStepRule:
    id: str
    always: bool
    include_if_any: tuple[str, ...]
    tailor: dict[str, str]
    why_first: str = ""
    why_first_source: Citation | None = None
    exclude_if_any: tuple[str, ...] = ()    # findings that keep the step out, even an `always` one
    say: str = ""                           # the step as the plan message says it (one or two sentences)


@dataclass(frozen=True)
class SourcedClaim:
    doc: str
    claim: str
    section: str = ""     # the section of the cited document (self-care-guidance.md headings)


@dataclass(frozen=True)
class CheckIn:
    """When the clinic may check in on a patient who asks for it, and what it asks."""
    after_days: int
    ask: str
    source: SourcedClaim


@dataclass(frozen=True)
class Presentation:
    """What a non-urgent patient most likely has (presentations.yaml) and the advice that fits."""
    id: str
    name: str
    when: tuple[tuple[str, ...], ...]
    unless: tuple[str, ...]
    level: str
    clinic_order: bool
    why: str
    steps: tuple[str, ...]
    notes: dict[str, str]
    watch: tuple[str, ...]
    book_if: str
    sources: tuple[SourcedClaim, ...]
    explained_by: str = ""
    fallback: bool = False
    check_in: CheckIn | None = None


@dataclass(frozen=True)
class Knowledge:
    sources: dict[str, Source]
    relation_types: dict[str, RelationType]
    nodes: dict[str, Node]
    relations: tuple[Relation, ...]
    concepts: dict[str, tuple[str, ...]]
    protected_words: frozenset[str]
    fuzzy: dict[str, int]
    answers: dict[str, tuple[str, ...]]
    patterns: dict[str, Any]
    findings: dict[str, Finding]
    protocol_version: str
    red_flags: dict[str, RedFlag]
    unsure_levels: dict[str, str]   # a flag's level -> the level "not sure" to its question gives
    advice: dict[str, Any]
    plan_steps: dict[str, PlanStepRule]
    frames: dict[str, str]
    presentations: dict[str, Presentation]
    max_plan_steps: int
    explain_first: tuple[str, ...]   # findings whose explanation is shown first (explanations.yaml)
    data_hash: str = field(repr=False)

    # ---- convenience views ----
    @property
    def rules(self) -> tuple[TriageRule, ...]:
        return tuple(rule for flag in self.red_flags.values() for rule in flag.rules)

    @property
    def questions(self) -> tuple[Question, ...]:
        """Every screening question, most dangerous first (the order of red_flags.yaml)."""
        return tuple(q for flag in self.red_flags.values() for q in flag.questions)

    @cached_property
    def screened_findings(self) -> frozenset[str]:
        """Findings a screening question asks about (the signs a hedge leaves unsure)."""
        return frozenset(item for question in self.questions for item in question.items)

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def relations_from(self, subject: str, relation: str | None = None) -> list[Relation]:
        return [r for r in self.relations
                if r.subject == subject and (relation is None or r.relation == relation)]

    def relations_to(self, obj: str, relation: str | None = None) -> list[Relation]:
        return [r for r in self.relations
                if r.object == obj and (relation is None or r.relation == relation)]

    def level_rank(self, level: str) -> int:
        """Higher is more urgent: self_care 0 ... emergency 3."""
        return len(LEVELS) - 1 - LEVELS.index(level)


# ---------------------------------------------------------------------------------------------
def load_knowledge(data_dir: Path | str = DATA_DIR) -> Knowledge:
    """Read and validate every data file (knowledge/loader.py)."""
    from knowledge.loader import load_knowledge as load  # noqa: PLC0415  (the loader builds these classes)

    return load(data_dir)


@lru_cache(maxsize=1)
def knowledge() -> Knowledge:
    """The project's knowledge, loaded once per process."""
    return load_knowledge()
