"""Plain-language explanations from the graph, each with the facts and sources it used.

`explain(topic)` answers "what is X / why does X matter" for any graph node: a symptom traced to
muscles, nerves and roots (night cramps -> gastrocnemius/soleus -> tibial nerve -> S1/L5), what a
muscle does and what supplies it, why a habit matters (crossing knees -> peroneal nerve ->
dorsiflexors), and where a self-care step sits in the clinic's order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from knowledge.model import Knowledge, Node, Relation, knowledge
from knowledge.triage import present_findings

# Facts from these make an answer the clinic's own view; otherwise it is public guidance.
CLINIC_DOCS = ("clinic_article", "clinic_plan_order")
# When a question names several topics, the most specific kind answers it.
TOPIC_PRIORITY = ("self_care_step", "habit", "symptom", "condition", "muscle", "nerve", "nerve_root", "movement",
                  "muscle_group", "tendon", "bone", "joint")


_BRACKETED = re.compile(r"\s*\([^)]*\)")


def join(items: Iterable[str]) -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


@dataclass
class Answer:
    topic: str
    sentences: list[str] = field(default_factory=list)
    facts: list[dict] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(s for s in self.sentences if s)

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(f["doc"] for f in self.facts))

    def say(self, k: Knowledge, frame: str, relations: Iterable[Relation] = (), **values: str) -> None:
        self.sentences.append(k.frames[frame].format(**values))
        for relation in relations:
            self.use(relation)

    def use(self, fact: Relation | Node) -> None:
        if isinstance(fact, Relation):
            entry = {"fact": f"{fact.subject} {fact.relation} {fact.object}"}
        else:
            entry = {"fact": f"{fact.id} ({fact.type})"}
        entry.update(doc=fact.source.doc, claim=fact.source.claim)
        if entry not in self.facts:
            self.facts.append(entry)


def _doing(k: Knowledge, relation: Relation) -> str:
    """A movement as a phrase: the first sentence of its description, plus any qualifier."""
    phrase = k.nodes[relation.object].about.split(". ")[0].rstrip(".")
    phrase = phrase[0].lower() + phrase[1:]
    return f"{phrase} ({relation.qualifier})" if relation.qualifier else phrase


def _names(k: Knowledge, ids: Iterable[str]) -> str:
    """The nodes' names; in a list of several, without the medical name in brackets ("inner thigh
    muscle", not "inner thigh muscle (adductor magnus)"): each is given in full where it is explained."""
    names = [k.nodes[i].name for i in ids]
    return join(names if len(names) < 2 else [_BRACKETED.sub("", name) for name in names])


def _name_ends(k: Knowledge, answer: Answer, frame: str, relations: list[Relation], key: str,
               end: str = "object") -> None:
    """Say `frame` naming the other end of each relation, if there are any."""
    if relations:
        answer.say(k, frame, relations, **{key: _names(k, [getattr(r, end) for r in relations])})


def _members(k: Knowledge, node_id: str) -> list[str]:
    """A muscle group's individual muscles (recursively); a muscle is its own member."""
    parts = [r.subject for r in k.relations_to(node_id, "part_of")]
    if not parts:
        return [node_id]
    return [m for part in parts for m in _members(k, part)]


def _supply(k: Knowledge, muscles: list[str], answer: Answer) -> tuple[list[str], list[str]]:
    nerves, roots = [], []
    for muscle in muscles:
        for relation in k.relations_from(muscle, "innervated_by"):
            (roots if k.nodes[relation.object].type == "nerve_root" else nerves).append(relation.object)
            answer.use(relation)
    for relation in k.relations:
        if relation.relation == "root_of" and relation.object in nerves and relation.subject in roots:
            answer.use(relation)
    return list(dict.fromkeys(nerves)), sorted(dict.fromkeys(roots), key=lambda r: r != "s1_root")


def _symptom(k: Knowledge, node: Node, answer: Answer) -> None:
    muscles_rel = k.relations_from(node.id, "affects")
    groups = [r.object for r in muscles_rel if k.nodes[r.object].type in ("muscle", "muscle_group")]
    if groups:
        shown = [m for g in groups for m in ([r.subject for r in k.relations_to(g, "part_of")] or [g])]
        answer.say(k, "symptom_muscles", muscles_rel, muscles=f"{_names(k, groups)} ({_names(k, shown)})")
        nerves, roots = _supply(k, [m for g in groups for m in _members(k, g)], answer)
        if nerves and roots:
            answer.say(k, "muscles_nerves", nerves=_names(k, nerves), roots=_names(k, roots))
    for relation in k.relations_from(node.id, "signals"):
        condition = k.nodes[relation.object]
        answer.say(k, "symptom_signals", [relation], symptom=node.name, condition=condition.name,
                   condition_about=condition.about)
    effects = k.relations_from(node.id, "causes")
    _name_ends(k, answer, "symptom_effects", effects, "effects")
    if not effects:
        causes = [r for r in k.relations_to(node.id) if r.relation in ("causes", "aggravates")]
        _name_ends(k, answer, "symptom_causes", causes, "causes", "subject")
    if not groups:  # no muscles of its own (back pain): the link goes through what it leads to
        for relation in effects:
            target = k.nodes[relation.object]
            if target.type == "symptom" and k.relations_from(target.id, "affects"):
                answer.say(k, "symptom_via", [relation], effect=target.name)
                _symptom(k, target, answer)


def _muscle(k: Knowledge, node: Node, answer: Answer) -> None:
    _name_ends(k, answer, "muscle_parts", k.relations_to(node.id, "part_of"), "parts", "subject")
    origin = k.relations_from(node.id, "originates_from")
    if origin:
        qualifier = f" ({origin[0].qualifier})" if origin[0].qualifier else ""
        answer.say(k, "muscle_origin", origin, bones=_names(k, [r.object for r in origin]), qualifier=qualifier)
    insertion = k.relations_from(node.id, "inserts_into")
    if insertion:
        answer.say(k, "muscle_insertion", insertion)
    crosses = k.relations_from(node.id, "crosses_joint")
    if crosses:
        qualifier = next((f" ({r.qualifier})" for r in crosses if r.qualifier), "")
        answer.say(k, "muscle_crosses", crosses, joints=_names(k, [r.object for r in crosses]), qualifier=qualifier)
    performs = k.relations_from(node.id, "performs")
    if performs:
        answer.say(k, "muscle_performs", performs, movements=join(_doing(k, r) for r in performs))
    nerves, roots = _supply(k, _members(k, node.id), answer)
    if nerves and roots:
        answer.say(k, "muscle_nerves", nerves=_names(k, nerves), roots=_names(k, roots))
    care = [r for m in [node.id, *_members(k, node.id)] for r in k.relations_from(m, "treated_by")]
    _name_ends(k, answer, "muscle_care", care, "steps")


def _nerve(k: Knowledge, node: Node, answer: Answer) -> None:
    _name_ends(k, answer, "nerve_supplies", k.relations_to(node.id, "innervated_by"), "muscles", "subject")
    _name_ends(k, answer, "nerve_roots", k.relations_to(node.id, "root_of"), "roots", "subject")
    habits = [r for r in k.relations_to(node.id, "aggravates") if k.nodes[r.subject].type == "habit"]
    if habits:
        answer.say(k, "nerve_habits", habits, habits=_names(k, [r.subject for r in habits]).capitalize())


def _root(k: Knowledge, node: Node, answer: Answer) -> None:
    _name_ends(k, answer, "root_nerves", k.relations_from(node.id, "root_of"), "nerves")
    _name_ends(k, answer, "root_muscles", k.relations_to(node.id, "innervated_by"), "muscles", "subject")
    _name_ends(k, answer, "root_causes", k.relations_to(node.id, "aggravates"), "conditions", "subject")


def _habit(k: Knowledge, node: Node, answer: Answer) -> None:
    for relation in k.relations_from(node.id):
        if relation.relation == "treated_by":
            continue
        target = k.nodes[relation.object]
        answer.say(k, "habit_effect", [relation], effect=k.relation_types[relation.relation].says.format(
            subject=node.name, object=f"the {target.name}").capitalize() + ".")
        if target.type == "nerve":
            muscles = k.relations_to(target.id, "innervated_by")
            moves = [r for m in muscles for r in k.relations_from(m.subject, "performs")]
            if muscles and moves:
                answer.say(k, "habit_chain", muscles + moves, nerve=target.name,
                           muscles=_names(k, [m.subject for m in muscles]),
                           movement=join(_doing(k, r) for r in moves))
    care = k.relations_from(node.id, "treated_by")
    if care:
        answer.say(k, "habit_care", care, steps=join(k.nodes[r.object].about.rstrip(".") for r in care))


def _step(k: Knowledge, node: Node, answer: Answer) -> None:
    _name_ends(k, answer, "step_treats", k.relations_to(node.id, "treated_by"), "targets", "subject")
    rule = k.plan_steps.get(node.id)
    if rule and rule.why_first:
        answer.sentences.append(rule.why_first)
        answer.facts.append({"fact": f"{node.id} comes first", "doc": rule.why_first_source.doc,
                             "claim": rule.why_first_source.claim})
    _name_ends(k, answer, "step_after", k.relations_to(node.id, "precedes"), "before", "subject")
    _name_ends(k, answer, "step_before", k.relations_from(node.id, "precedes"), "after")


def _condition(k: Knowledge, node: Node, answer: Answer) -> None:
    effects = [r for r in k.relations_from(node.id) if r.relation in ("weakens", "tightens", "causes")]
    if effects:
        answer.say(k, "condition_effects", effects, effects=join(
            k.relation_types[r.relation].says.format(subject="", object=f"the {k.nodes[r.object].name}")
            .replace("can ", "", 1).strip() for r in effects))
    roots = [r for r in k.relations_from(node.id) if r.relation in ("affects", "aggravates")]
    if roots:
        answer.say(k, "condition_roots", roots, roots=_names(k, [r.object for r in roots]))


def _other(k: Knowledge, node: Node, answer: Answer) -> None:
    linked = [r for r in k.relations if r.object == node.id and k.nodes[r.subject].type in ("muscle", "muscle_group")]
    if linked:
        frame = "movement_muscles" if node.type == "movement" else "related_muscles"
        answer.say(k, frame, linked, muscles=_names(k, [r.subject for r in linked]))


_BY_TYPE = {"symptom": _symptom, "muscle": _muscle, "muscle_group": _muscle, "nerve": _nerve,
            "nerve_root": _root, "habit": _habit, "self_care_step": _step, "condition": _condition}


def explain(topic: str, k: Knowledge | None = None) -> Answer:
    """Explain one graph node in plain words, with the facts and sources used."""
    k = k or knowledge()
    node = k.nodes.get(topic)
    if node is None:
        return Answer(topic, [k.frames["unknown_topic"]])
    answer = Answer(topic, [f"{node.name[0].upper()}{node.name[1:]}: {node.about}"])
    answer.use(node)
    _BY_TYPE.get(node.type, _other)(k, node, answer)
    clinic = any(fact["doc"] in CLINIC_DOCS for fact in answer.facts)
    answer.sentences.append(k.frames["clinic_view" if clinic else "guidance_view"])
    return answer


def nerve_supply(muscle: str, k: Knowledge | None = None) -> dict:
    """Which nerves and nerve roots supply a muscle (or each muscle of a group), with facts used."""
    k = k or knowledge()
    answer = Answer(muscle)
    nerves, roots = _supply(k, _members(k, muscle), answer)
    return {"nerves": nerves, "roots": roots, "facts": answer.facts}


def pick_topic(topics: Iterable[str], k: Knowledge | None = None) -> str | None:
    """The most specific graph node among those a question mentioned."""
    k = k or knowledge()
    known = [t for t in topics if t in k.nodes]
    if not known:
        return None
    return min(known, key=lambda t: TOPIC_PRIORITY.index(k.nodes[t].type))


def topic_for_findings(findings: Mapping[str, str], k: Knowledge | None = None) -> str | None:
    """The explanation that fits what the patient reported (first complaint with a graph link)."""
    k = k or knowledge()
    present = present_findings(findings, k)
    for finding in list(k.explain_first) + sorted(present):
        if finding in present and k.findings.get(finding) and k.findings[finding].explained_by:
            return k.findings[finding].explained_by
    return None
