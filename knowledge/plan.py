"""The self-care plan in the clinic's order, built from the graph.

Which steps: plan.yaml (always, or when a reported finding brings them in). Their order: a
topological sort of the graph's `precedes` relations (dorsiflexors before calves, ..., safety net
last). Their text: the step node's `about` plus notes tailored to what the patient reported.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from knowledge.model import Knowledge, knowledge
from knowledge.triage import present_findings


@dataclass(frozen=True)
class PlanStep:
    id: str
    title: str
    text: str
    notes: tuple[str, ...]
    sources: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "text": " ".join((self.text, *self.notes))}


def step_order(k: Knowledge | None = None) -> list[str]:
    """Every self-care step in the clinic's order (Kahn's algorithm; ties keep graph order)."""
    k = k or knowledge()
    steps = [n.id for n in k.nodes.values() if n.type == "self_care_step"]
    edges = [(r.subject, r.object) for r in k.relations if r.relation == "precedes"]
    incoming = {s: {a for a, b in edges if b == s} for s in steps}
    ordered: list[str] = []
    while len(ordered) < len(steps):
        ready = [s for s in steps if s not in ordered and incoming[s] <= set(ordered)]
        if not ready:
            raise ValueError("graph.yaml: the 'precedes' relations between self-care steps form a cycle")
        ordered.append(ready[0])
    return ordered


def build_plan(findings: Mapping[str, str], k: Knowledge | None = None) -> list[PlanStep]:
    k = k or knowledge()
    present = present_findings(findings, k)
    plan = []
    for step_id in step_order(k):
        rule = k.plan_steps[step_id]
        if not (rule.always or present & set(rule.include_if_any)) or present & set(rule.exclude_if_any):
            continue
        node = k.nodes[step_id]
        notes = tuple(note for finding, note in rule.tailor.items() if finding in present)
        if rule.why_first and not plan:
            notes = (rule.why_first, *notes)
        sources = tuple(dict.fromkeys([node.source.doc] + [r.source.doc for r in k.relations_to(step_id, "treated_by")]))
        plan.append(PlanStep(step_id, node.name, node.about, notes, sources))
    return plan
