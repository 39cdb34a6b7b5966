"""Read and validate the self-care side of the knowledge data: plan steps (plan.yaml) and
presentations with their check-ins (presentations.yaml). `reader` is knowledge.loader's reader
of one file, which names the file and entry in every error."""
from __future__ import annotations

from typing import Any

from knowledge.model import LEVELS, CheckIn, Finding, Node, PlanStepRule, Presentation, RedFlag, SourcedClaim


def load_plan(reader, nodes: dict[str, Node], findings: dict[str, Finding],
               sources) -> tuple[dict[str, PlanStepRule], int]:
    steps = {}
    for sid, body in reader.section("steps").items():
        if sid not in nodes or nodes[sid].type != "self_care_step":
            raise reader.fail(sid, "is not a self_care_step node in graph.yaml")
        body = body or {}
        include = reader.words(sid, body.get("include_if_any", []))
        exclude = reader.words(sid, body.get("exclude_if_any", []))
        tailor = body.get("tailor") or {}
        unknown = [f for f in (*include, *exclude, *tailor) if f not in findings]
        if unknown:
            raise reader.fail(sid, f"unknown findings {unknown}")
        why_first_source = reader.citation(sid, body.get("source"), sources) if body.get("why_first") else None
        steps[sid] = PlanStepRule(sid, bool(body.get("always")), include, dict(tailor),
                                  str(body.get("why_first", "")).strip(), why_first_source, exclude,
                                  reader.text(sid, body, "say"))
    missing = [n.id for n in nodes.values() if n.type == "self_care_step" and n.id not in steps]
    if missing:
        raise reader.fail("steps", f"no entry for steps {missing}")
    max_steps = reader.data.get("max_steps")
    if not isinstance(max_steps, int) or max_steps < 1:
        raise reader.fail("max_steps", "must be a positive whole number")
    return steps, max_steps


def load_presentations(reader, findings: dict[str, Finding], plan: dict[str, PlanStepRule],
                        flags: dict[str, RedFlag], nodes: dict[str, Node], sources) -> dict[str, Presentation]:
    """Each presentation: known findings, steps and red flags, and its sources (a section of
    self-care-guidance.md, or the clinic's article)."""
    presentations = {}
    for pid, body in reader.section("presentations").items():
        if not isinstance(body, dict):
            raise reader.fail(pid, "expected a mapping")
        if body.get("level") not in LEVELS:
            raise reader.fail(pid, f"'level' must be one of {LEVELS}")
        when = reader.groups(f"{pid}.when", body.get("when"), findings, "findings")
        unless = reader.words(f"{pid}.unless", body.get("unless", []))
        steps = reader.words(f"{pid}.steps", body.get("steps"))
        notes = body.get("notes") or {}
        net = body.get("safety_net") or {}
        watch = reader.words(f"{pid}.safety_net.watch", net.get("watch", []))
        for what, ids, known in (("findings", unless, findings), ("steps", steps, plan), ("note steps", notes, steps),
                                 ("red flags", watch, flags)):
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise reader.fail(pid, f"unknown {what} {unknown}")
        cited = [_sectioned(reader, f"{pid}.sources[{index}]", citation, sources)
                 for index, citation in enumerate(body.get("sources") or [])]
        if not {c.doc for c in cited} & {"self_care_guidance", "clinic_article"}:
            raise reader.fail(pid, "needs a source: a section of self-care-guidance.md or the clinic's article")
        explained_by = str(body.get("explained_by", ""))
        if explained_by and explained_by not in nodes:
            raise reader.fail(pid, f"explained_by names unknown graph node {explained_by!r}")
        presentations[pid] = Presentation(
            pid, reader.text(pid, body, "name"), when, unless, body["level"], bool(body.get("clinic_order")),
            reader.text(pid, body, "why"), steps, {k: str(v).strip() for k, v in notes.items()}, watch,
            reader.text(pid, net, "book_if", required=False), tuple(cited), explained_by, bool(body.get("fallback")),
            _check_in(reader, pid, body.get("check_in"), sources))
    if sum(p.fallback for p in presentations.values()) != 1:
        raise reader.fail("presentations", "exactly one presentation must be the `fallback`")
    return presentations


MAX_CHECK_IN_DAYS = 90


def _check_in(reader, pid: str, body: Any, sources) -> CheckIn | None:
    """A presentation's check-in: after how many days, what it asks, and the source of the timing."""
    if body is None:
        return None
    entry = f"{pid}.check_in"
    if not isinstance(body, dict):
        raise reader.fail(entry, "expected a mapping (after_days, ask, source)")
    days = body.get("after_days")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_CHECK_IN_DAYS:
        raise reader.fail(entry, f"'after_days' must be a whole number from 1 to {MAX_CHECK_IN_DAYS}")
    return CheckIn(days, reader.text(entry, body, "ask"), _sectioned(reader, entry, body.get("source"), sources))


def _sectioned(reader, entry: str, citation: Any, sources) -> SourcedClaim:
    """A citation; one of self-care-guidance.md names its section."""
    base = reader.citation(entry, citation, sources)
    section = str(citation.get("section", "")).strip()
    if base.doc == "self_care_guidance" and not section:
        raise reader.fail(entry, "a citation of self-care-guidance.md names its section")
    return SourcedClaim(base.doc, base.claim, section)
