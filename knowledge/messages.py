"""What the bot says, rendered from knowledge data: questions, escalations, outcomes, safety-netting.

Each function returns Rasa-style message dicts ({"text", "buttons"?, "custom"?}). Clinic contact
details (emergency number, clinic phone, ...) are passed in, so knowledge/ holds no configuration.
The `custom` payloads follow the protocol in docs/architecture.md: {"ask": id} on questions and
{"triage": {...}} on decisions.
"""
from __future__ import annotations

from typing import Mapping

from knowledge.conversation import ConversationState
from knowledge.explain import join
from knowledge.model import ESCALATING_LEVELS, SCREEN_PREFIX, Knowledge, Presentation, Question, knowledge
from knowledge.plan import SAFETY_NET, PlanStep, build_plan, presentations_for
from knowledge.triage import ABSENT, UNCERTAIN, WHICH, Outcome, present_findings, unknown_items

YES_NO_BUTTONS = ({"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"},
                  {"title": "Not sure", "payload": "/unsure"})
Contact = Mapping[str, str]   # emergency_number, urgent_number, clinic_phone, clinic_hours
MAX_MESSAGE_CHARS = 600       # no single message longer, on any channel (a phone screen, an SMS thread)


def response_values(contact: Contact, k: Knowledge | None = None) -> dict[str, str]:
    """What the domain's responses are filled with: the clinic's numbers and names, and the two
    emergency lines that many of them end with ({emergency_line}, {emergency_short}), kept once in
    knowledge/data/advice.yaml."""
    k = k or knowledge()
    notices = k.advice["channel_notices"]
    return {**contact, "emergency_line": notices["emergency_line"].format_map(contact),
            "emergency_short": notices["emergency_short"].format_map(contact)}


def question_message(question: Question, findings: Mapping[str, str], k: Knowledge | None = None) -> dict:
    """A screening question naming only what the patient has not told us yet."""
    k = k or knowledge()
    unknown = unknown_items(question, findings, k) or list(question.items)
    if findings.get(question.screen_finding) == WHICH:
        return which_message(question, unknown, k)
    text = question.intro
    if len(question.items) > 1:
        text += "\n" + "\n".join(f"- {k.findings[item].ask}" for item in unknown)
    return {"text": text, "buttons": [dict(b) for b in YES_NO_BUTTONS], "custom": {"ask": question.id}}


def which_message(question: Question, unknown: list[str], k: Knowledge) -> dict:
    """After "yes" to a several-item question: which of them? One button per item; typing works too."""
    buttons = [{"title": k.findings[item].label[:1].upper() + k.findings[item].label[1:],
                "payload": f'/describe_symptoms{{"finding": "{item}"}}'} for item in unknown]
    buttons.append({"title": "Not sure", "payload": "/unsure"})
    return {"text": k.advice["which_intro"], "buttons": buttons, "custom": {"ask": question.id, "which": True}}


def proxy_message(k: Knowledge | None = None) -> dict:
    k = k or knowledge()
    return {"text": k.advice["proxy_question"], "buttons": [
        {"title": "Yes, I'm chatting for them", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
        "custom": {"ask": "proxy"}}


def _fired_findings(outcome: Outcome, flags: set[str], k: Knowledge, findings: Mapping[str, str]) -> list[str]:
    """Labels of what raised these flags; a bare "yes" to a question names its items instead
    (those the patient had not ruled out)."""
    fired = [f for hit in outcome.hits if hit.flag in flags for f in hit.findings]
    labels = [k.findings[f].label for f in fired if f in k.findings]
    if not labels:
        for hit in outcome.hits:
            for finding in hit.findings if hit.flag in flags else ():
                question = k.question(finding.removeprefix(SCREEN_PREFIX))
                items = ([i for i in question.items if findings.get(i) == UNCERTAIN]
                         or [i for i in question.items if findings.get(i) != ABSENT] or list(question.items))
                labels.append(("possibly " if hit.unsure else "") + "one or more of: "
                              + ", ".join(k.findings[i].label for i in items))
    return list(dict.fromkeys(labels))


def _reasons(outcome: Outcome, flags: list[str], k: Knowledge, findings: Mapping[str, str]) -> list[str]:
    """Why each flag was raised; a flag raised only by "not sure" says so."""
    reasons = []
    for flag in flags:
        unsure = all(hit.unsure for hit in outcome.hits if hit.flag == flag)
        template = k.advice["reason_unsure" if unsure else "reason"]
        reasons.append(template.format(findings=join(_fired_findings(outcome, {flag}, k, findings)),
                                       why=k.red_flags[flag].why))
    return reasons


def triage_payload(outcome: Outcome, plan: list[PlanStep], contact: Contact, reason: str,
                   k: Knowledge | None = None) -> dict:
    k = k or knowledge()
    sources = [k.sources[s].title for hit in outcome.hits for s in hit.sources]
    payload = {"level": outcome.level, "red_flags": list(outcome.red_flags), "rules": list(outcome.rule_ids),
               "protocol_version": outcome.protocol_version, "plan": [step.id for step in plan],
               "reason": reason, "sources": list(dict.fromkeys(sources))}
    if outcome.level == "emergency":
        payload["call"] = contact["emergency_number"]
    return payload


def escalation_message(outcome: Outcome, contact: Contact, findings: Mapping[str, str],
                       k: Knowledge | None = None) -> dict:
    """The advice for an emergency or urgent outcome: what to do now, why, what to say."""
    k = k or knowledge()
    advice = k.advice["levels"][outcome.level]
    flags = [f for f in outcome.red_flags if k.level_rank(max(
        (h.level for h in outcome.hits if h.flag == f), key=k.level_rank)) == k.level_rank(outcome.level)]
    values = dict(contact, summary="; ".join(_fired_findings(outcome, set(flags), k, findings)))
    reasons = _reasons(outcome, flags, k, findings)
    head = [advice["headline"].format(**values), *(f"- {step.format(**values)}" for step in advice["steps"])]
    # several flags: one line naming what raised them, then why each matters; else the most urgent's
    # why (a flag raised only by "not sure" keeps its own line: nothing was "told")
    sure = [f for f in flags if not all(hit.unsure for hit in outcome.hits if hit.flag == f)]
    unsure = [k.advice["reason_unsure"]] if len(sure) < len(flags) else []
    named = [k.advice["reason"].format(findings=join(_fired_findings(outcome, set(sure), k, findings)),
                                       why="").strip()] if sure else []
    whys = [k.red_flags[flag].why for flag in sure]
    for why in (reasons, [*named, *whys, *unsure], [*named, *whys[:1], *unsure], [*named, *unsure]):
        lines = [*head, *why, k.advice["not_a_diagnosis"]]
        if len("\n".join(lines)) <= MAX_MESSAGE_CHARS:
            break
    return {"text": "\n".join(lines), "custom": {"triage": triage_payload(outcome, [], contact, " ".join(reasons), k)}}


def relevant_flags(findings: Mapping[str, str], outcome: Outcome, k: Knowledge | None = None) -> list[str]:
    """Red flags worth watching for, given what was reported (and not already raised)."""
    k = k or knowledge()
    present = present_findings(findings, k)
    relevant = []
    for flag in k.red_flags.values():
        if flag.id in outcome.red_flags:
            continue
        applies = any(all(set(group) & present for group in q.applies_if) for q in flag.questions)
        mentioned = any(set(group) & present for rule in flag.rules for group in rule.when)
        if applies or mentioned:
            relevant.append(flag.id)
    return relevant or ["cauda_equina", "pulmonary_embolism", "dvt", "persistent_pain"]


def safety_net_message(findings: Mapping[str, str], outcome: Outcome, contact: Contact,
                       k: Knowledge | None = None) -> dict:
    k = k or knowledge()
    net = k.advice["safety_net"]
    lines = [net["title"]]
    flags = relevant_flags(findings, outcome, k)
    for level in ("emergency", "urgent", "routine"):
        watch = [k.red_flags[f].watch_for for f in flags if k.red_flags[f].level == level]
        if watch:
            lines.append(net[level].format(**contact))
            lines.extend(f"- {w}" for w in dict.fromkeys(watch))
    lines.append(net["closing"].format(**contact))
    return {"text": "\n".join(lines), "custom": {"safety_net": {"flags": flags}}}


def split_message(parts: list[str], limit: int = MAX_MESSAGE_CHARS, sep: str = "\n") -> list[str]:
    """Parts (lines, sentences) joined into as few messages as fit `limit` characters each,
    breaking only between parts, as evenly as possible (no short last message)."""
    def joined(i: int, j: int) -> str:
        return sep.join(parts[i:j])

    count = len(parts)
    # best[c][j]: (longest message, breaks) for the first j parts in c messages
    best: list[dict[int, tuple[int, list[int]]]] = [{0: (0, [])}]
    for _ in range(count):
        row: dict[int, tuple[int, list[int]]] = {}
        for j in range(1, count + 1):
            options = [(max(longest, len(joined(i, j))), breaks + [i]) for i, (longest, breaks) in best[-1].items()
                       if i < j and (len(joined(i, j)) <= limit or j - i == 1)]
            if options:
                row[j] = min(options)
        best.append(row)
        if count in row:
            breaks = row[count][1] + [count]
            return [joined(a, b) for a, b in zip(breaks, breaks[1:], strict=False)]
    return list(parts)


def _decision_message(outcome: Outcome, presentations: list[Presentation], plan: list[PlanStep], contact: Contact,
                      findings: Mapping[str, str], k: Knowledge) -> dict:
    """Level and why: the headline, what to do at this level, why, and what it probably is; the
    longest version that fits one message."""
    advice = k.advice["levels"][outcome.level]
    head = [advice["headline"].format(**contact), *(f"- {s.format(**contact, summary='')}" for s in advice["steps"])]
    reasons = _reasons(outcome, list(outcome.red_flags), k, findings)
    if not reasons and not presentations:
        reasons = [k.advice["self_care_reason"]]   # with a presentation, its why says more than this
    # several red flags: one line naming what raised them all, then what each presentation is
    named = k.advice["reason"].format(findings=join(_fired_findings(outcome, set(outcome.red_flags), k, findings)),
                                      why="").strip()
    whys = [p.why for p in presentations]
    candidates = ([*reasons, *whys], [*reasons, *(p.why for p in presentations if p.level == "self_care")],
                  reasons, [named, *whys], [named])
    for why in candidates:
        lines = [*head, *dict.fromkeys(why), k.advice["not_a_diagnosis"]]
        if len("\n".join(lines)) <= MAX_MESSAGE_CHARS:
            break
    payload = triage_payload(outcome, plan, contact, " ".join(reasons), k)
    payload["presentations"] = [p.id for p in presentations]
    return {"text": "\n".join(lines), "custom": {"triage": payload}}


def _plan_messages(presentations: list[Presentation], plan: list[PlanStep], k: Knowledge) -> list[dict]:
    """The numbered steps, split between steps if they do not fit one message; each message
    carries its own steps (with their numbers) as custom.plan."""
    steps = [step for step in plan if step.id != SAFETY_NET]
    if not steps:
        return []
    intro = k.advice["plan_intro" if any(p.clinic_order for p in presentations) else "plan_intro_other"]
    lines = [intro, *(f"{number}. {step.said}" for number, step in enumerate(steps, 1)), k.advice["plan_more"]]
    messages = []
    for text in split_message(lines):
        shown = [(n, s) for n, s in enumerate(steps, 1) if f"{n}. {s.said}" in text.splitlines()]
        messages.append({"text": text, "custom": {"plan": [dict(s.as_dict(), number=n) for n, s in shown]}})
    return messages


def plan_safety_net_messages(presentations: list[Presentation], outcome: Outcome, contact: Contact,
                             k: Knowledge | None = None) -> list[dict]:
    """What to watch for, limited to what fits these presentations, and what to do if things change
    (split between lines if it does not fit one message)."""
    k = k or knowledge()
    net = k.advice["safety_net"]
    flags = [f for f in dict.fromkeys(f for p in presentations for f in p.watch) if f not in outcome.red_flags]
    lines = [net["title"]]
    for level in ESCALATING_LEVELS:
        watch = [k.red_flags[f].watch_for for f in flags if k.red_flags[f].level == level]
        if watch:
            lines.append(net[level].format(**contact))
            lines.extend(f"- {w}" for w in dict.fromkeys(watch))
    book_if = [p.book_if for p in presentations if p.book_if]
    if outcome.level == "self_care" and book_if:
        lines.append(net["book_if"].format(when=", or if ".join(dict.fromkeys(book_if))))
    lines.append(net["closing_plan"].format(**contact))
    return [{"text": text, "custom": {"safety_net": {"flags": flags}}} for text in split_message(lines)]


def outcome_messages(state: ConversationState, contact: Contact, k: Knowledge | None = None) -> list[dict]:
    """The decision at the end of the screen: level and why, the plan (at most `max_steps` steps),
    then the safety net that fits the patient; no message over MAX_MESSAGE_CHARS.

    Emergency and urgent outcomes were already announced the moment they arose; here they get a
    short reminder instead of a plan.
    """
    k = k or knowledge()
    outcome = state.outcome(k)
    findings = state.findings
    if outcome.is_escalation:
        message = escalation_message(outcome, contact, findings, k)
        return [message, safety_net_message(findings, outcome, contact, k)]
    presentations = presentations_for(findings, k)
    plan = build_plan(findings, k, presentations)
    return [_decision_message(outcome, presentations, plan, contact, findings, k),
            *_plan_messages(presentations, plan, k),
            *plan_safety_net_messages(presentations, outcome, contact, k)]
