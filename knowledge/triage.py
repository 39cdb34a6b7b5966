"""The deterministic triage engine: findings in, level + red flags + fired rules out.

Rules are data (red_flags.yaml). Nothing here is learned. Every outcome names the rules that fired,
their sources and the protocol version, so staff can audit it later, and lists the screening
questions still worth asking, most dangerous first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from knowledge.model import ESCALATING_LEVELS, Knowledge, Question, TriageRule, knowledge

PRESENT, ABSENT, UNCERTAIN = "present", "absent", "uncertain"
KNOWN = (PRESENT, ABSENT, UNCERTAIN)
# Not yet known, but the next question must be about it: a "yes" to a several-item question waits
# for "which of these?" (WHICH on the question's screen finding); a word that only suggests a red
# flag waits for that flag's confirming question (SUGGESTED on the finding).
WHICH, SUGGESTED = "which", "suggested"


@dataclass(frozen=True)
class RuleHit:
    rule_id: str
    flag: str
    level: str
    findings: tuple[str, ...]      # the present findings that satisfied the rule
    sources: tuple[str, ...]
    unsure: bool = False           # raised by a "not sure" answer, not by a finding


@dataclass(frozen=True)
class Outcome:
    level: str
    red_flags: tuple[str, ...]
    hits: tuple[RuleHit, ...]
    protocol_version: str
    pending: tuple[Question, ...]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(hit.rule_id for hit in self.hits)

    @property
    def is_escalation(self) -> bool:
        return self.level in ESCALATING_LEVELS


def present_findings(findings: Mapping[str, str], k: Knowledge | None = None) -> set[str]:
    """Findings reported present, plus what they imply (night cramps imply calf cramps)."""
    k = k or knowledge()
    present = {f for f, status in findings.items() if status == PRESENT}
    frontier = list(present)
    while frontier:
        finding = k.findings.get(frontier.pop())
        for implied in (finding.implies if finding else ()):
            if implied not in present and findings.get(implied) != ABSENT:
                present.add(implied)
                frontier.append(implied)
    return present


def _satisfied(groups: tuple[tuple[str, ...], ...], present: set[str]) -> tuple[str, ...] | None:
    used = []
    for group in groups:
        hits = [f for f in group if f in present]
        if not hits:
            return None
        used.extend(hits)
    return tuple(dict.fromkeys(used))


def _hit(rule: TriageRule, used: tuple[str, ...], k: Knowledge) -> RuleHit:
    return RuleHit(rule.id, rule.flag, rule.level, used, k.red_flags[rule.flag].sources)


def flag_ceiling(flag_id: str, k: Knowledge) -> str:
    """The most urgent level any rule of a flag can give."""
    return max((rule.level for rule in k.red_flags[flag_id].rules), key=k.level_rank)


def question_ceiling(question: Question, k: Knowledge, items: Iterable[str] | None = None,
                     present: Iterable[str] = ()) -> str | None:
    """The most urgent level a yes to the question's open `items` could still give, with what is
    already `present` ("very unwell" raises back pain with a fever to an emergency; a yes about a
    weak immune system cannot); None when no rule of its flag can fire through them."""
    items = set(question.items if items is None else items)
    present = set(present)
    levels = [rule.level for rule in k.red_flags[question.flag].rules
              if any(items & set(group) for group in rule.when)
              and all((items | present) & set(group) for group in rule.when)]
    return max(levels, key=k.level_rank) if levels else None


def evaluate(findings: Mapping[str, str], k: Knowledge | None = None) -> Outcome:
    k = k or knowledge()
    present = present_findings(findings, k)
    hits = []
    for rule in k.rules:
        used = _satisfied(rule.when, present)
        if used is not None and not (set(rule.unless) & present):
            hits.append(_hit(rule, used, k))
    for question in k.questions:
        flag = k.red_flags[question.flag]
        if findings.get(question.screen_finding) == PRESENT:
            hits.append(RuleHit(f"{question.id}.answered_yes", flag.id, flag.level, (question.screen_finding,),
                                flag.sources))
        elif flag.level in k.unsure_levels and flag.id not in {hit.flag for hit in hits} and (
                findings.get(question.screen_finding) == UNCERTAIN
                or (any(findings.get(item) == UNCERTAIN for item in question.items)
                    and _satisfied(question.applies_if, present) is not None)):
            hits.append(RuleHit(f"{question.id}.unsure", flag.id, k.unsure_levels[flag.level],
                                (question.screen_finding,), flag.sources, unsure=True))
    level = max((hit.level for hit in hits), key=k.level_rank, default="self_care")
    order = list(k.red_flags)
    flags = tuple(sorted({hit.flag for hit in hits}, key=order.index))
    hits.sort(key=lambda hit: (-k.level_rank(hit.level), order.index(hit.flag)))
    return Outcome(level, flags, tuple(hits), k.protocol_version, pending_questions(findings, level, flags, k))


def pending_questions(findings: Mapping[str, str], level: str, fired: tuple[str, ...] = (),
                      k: Knowledge | None = None) -> tuple[Question, ...]:
    """Screening questions still worth asking, most dangerous first.

    A question is worth asking while it applies to what was reported, it was not answered, some
    of its items are still unknown, and its answer could raise the level (its flag has not fired,
    or has fired below what the question's items can still reach).
    """
    k = k or knowledge()
    present = present_findings(findings, k)
    level_rank = k.level_rank(level)
    pending, first = [], []
    for question in k.questions:
        if findings.get(question.screen_finding) in KNOWN:
            continue
        open_items = [item for item in question.items if findings.get(item) not in KNOWN and item not in present]
        reachable = question_ceiling(question, k, open_items or question.items, present if question.flag in fired else ())
        ceiling = k.level_rank(reachable or flag_ceiling(question.flag, k))
        if question.flag in fired and ceiling <= level_rank:
            continue
        if findings.get(question.screen_finding) == WHICH:
            first.append(question)
            continue
        if any(findings.get(item) == SUGGESTED for item in question.items):
            # a confirming question is asked at once, but only where a yes could raise the level
            # (a weak leg suggested without a cancer history asks nothing about cancer's rule)
            confirmed = question_ceiling(question, k, open_items or question.items, present)
            if confirmed is not None and k.level_rank(confirmed) > level_rank:
                first.append(question)
                continue
        if _satisfied(question.applies_if, present) is None:
            continue
        if all(findings.get(item) in KNOWN or item in present for item in question.items):
            continue
        if ceiling <= level_rank:
            continue
        pending.append(question)
    return tuple(first + pending)


def unknown_items(question: Question, findings: Mapping[str, str], k: Knowledge | None = None) -> list[str]:
    """The items of a question the patient has not told us about yet (asked in this order)."""
    present = present_findings(findings, k)
    return [item for item in question.items if findings.get(item) not in KNOWN and item not in present]
