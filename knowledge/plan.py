"""The self-care plan that fits the patient, from their presentations (presentations.yaml).

Which presentations: each one's `when`/`unless` over the findings (several may fit; the fallback
when none does). Which steps: each presentation in turn gives its most important step not yet
chosen, so that a merge keeps the heart of both without repeats, up to plan.yaml `max_steps`; plus
the safety net. Their order: a topological sort of the graph's `precedes` relations (the clinic's
order: dorsiflexors before calves, ..., safety net last). Their text: plan.yaml `say` plus at
most one note (the presentation's, or one tailored to what the patient reported).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from knowledge.model import Knowledge, Presentation, knowledge
from knowledge.triage import present_findings

SAFETY_NET = "safety_net"


@dataclass(frozen=True)
class PlanStep:
    id: str
    title: str
    text: str
    notes: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def said(self) -> str:
        return " ".join((self.text, *self.notes))

    def as_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "text": self.said}


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


def presentations_for(findings: Mapping[str, str], k: Knowledge | None = None) -> list[Presentation]:
    """Every presentation the findings fit, in presentations.yaml order (the fallback if none)."""
    k = k or knowledge()
    present = present_findings(findings, k)
    fits = [p for p in k.presentations.values()
            if all(set(group) & present for group in p.when) and not set(p.unless) & present]
    return fits or [p for p in k.presentations.values() if p.fallback]


def _chosen_steps(presentations: list[Presentation], present: set[str], k: Knowledge) -> list[str]:
    """Each presentation in turn gives its most important step not yet chosen (a step for a
    reported habit takes the last turn), until the plan holds `max_plan_steps`; excluded steps
    (calf stretches for claudication) never count."""
    def allowed(sid: str) -> bool:
        return sid != SAFETY_NET and not present & set(k.plan_steps[sid].exclude_if_any)

    habits = [sid for sid, rule in k.plan_steps.items() if present & set(rule.include_if_any)]
    queues = [[sid for sid in steps if allowed(sid)] for steps in [*(p.steps for p in presentations), habits]]
    chosen: list[str] = []
    while len(chosen) < k.max_plan_steps and any(queues):
        for queue in queues:
            while queue and queue[0] in chosen:
                queue.pop(0)
            if queue and len(chosen) < k.max_plan_steps:
                chosen.append(queue.pop(0))
    return chosen


def _note(step_id: str, presentations: list[Presentation], present: set[str], k: Knowledge) -> tuple[str, ...]:
    notes = [p.notes[step_id] for p in presentations if step_id in p.notes]
    notes += [note for finding, note in k.plan_steps[step_id].tailor.items() if finding in present]
    return tuple(notes[:1])


def build_plan(findings: Mapping[str, str], k: Knowledge | None = None,
               presentations: list[Presentation] | None = None) -> list[PlanStep]:
    k = k or knowledge()
    present = present_findings(findings, k)
    presentations = presentations if presentations is not None else presentations_for(findings, k)
    chosen = set(_chosen_steps(presentations, present, k)) | {SAFETY_NET}
    plan = []
    for step_id in step_order(k):
        if step_id not in chosen:
            continue
        node = k.nodes[step_id]
        sources = tuple(dict.fromkeys([node.source.doc] + [r.source.doc for r in k.relations_to(step_id, "treated_by")]))
        plan.append(PlanStep(step_id, node.name, k.plan_steps[step_id].say, _note(step_id, presentations, present, k),
                             sources))
    return plan
