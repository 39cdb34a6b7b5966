"""A conversation's triage outcomes and callback requests as the project's JSON record and as a
FHIR R4 Bundle (fhir.resources 7.0.2, package R4B: FHIR 4.3, the R4 line).

The record (`conversation_record`) is what the outbox freezes when an outcome or a callback request
is written; `build_bundle` and `wire_json` render it, the same way every time, for the webhook, the
console and `python -m storage.cli export-fhir`. What a rendering may show is a `Disclosure`:

  REDACTED  pseudonym only, no contact details, reasons redacted (console and CLI by default)
  WEBHOOK   pseudonym and the consented callback details (the clinic's own system)
  FULL      also the sender id (an admin who asks)

The Bundle (type collection) holds a pseudonymous Patient (never a name: the bot asks for none), a
QuestionnaireResponse of the screening answers (items by question id; yes / no / unsure), an
Observation per finding with its status (present, absent, past, someone else's, unsure), a
RiskAssessment per outcome (level, red flags, the rules that fired with the protocol version,
sources, reason) and a ServiceRequest with its Task per callback request. Findings carry a SNOMED CT
code where knowledge/data/snomed.yaml has one, and their label as text always.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.codes import codes
from knowledge.model import knowledge
from storage.audit import conversation_label
from storage.models import Conversation, Event, HandoffRequest, TriageOutcome, utcnow
from storage.redaction import redact
from storage.transcript import build_transcript

RECORD_VERSION = 1
# The project's own code systems (URNs: nothing to resolve).
SYSTEM = "urn:clinic-triage:"
CONVERSATION_REF = SYSTEM + "conversation-ref"
SENDER_ID = SYSTEM + "sender-id"
OUTCOME_ID = SYSTEM + "triage-outcome"
CALLBACK_ID = SYSTEM + "callback-request"
LEVEL_SYSTEM = SYSTEM + "triage-level"
RULE_SYSTEM = SYSTEM + "triage-rule"
RED_FLAG_SYSTEM = SYSTEM + "red-flag"
FINDING_SYSTEM = SYSTEM + "finding"
QUESTIONNAIRE = SYSTEM + "questionnaire:red-flag-screen"
OUTBOX_MESSAGE = SYSTEM + "outbox-message"
MESSAGE_KIND = SYSTEM + "message-kind"
SEQUENCE = SYSTEM + "conversation-sequence"
YES_NO = "http://terminology.hl7.org/CodeSystem/v2-0136"
ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:clinic-triage")

# Statuses a finding is exported with, and how each reads.
FINDING_STATUS_TEXT = {"present": "present", "absent": "absent", "past": "in the past, not now",
                       "someone_else": "reported about someone else, not the patient",
                       "uncertain": "patient unsure"}
_DECIDED = ("present", "absent", "uncertain")
ANSWERS = {"present": "yes", "which": "yes", "absent": "no", "uncertain": "unsure"}
_ANSWER_CODINGS = {"yes": (YES_NO, "Y", "Yes"), "no": (YES_NO, "N", "No"),
                   "unsure": (ABSENT_REASON, "asked-unknown", "Asked But Unknown")}
_PRIORITY = {"emergency": "stat", "urgent": "urgent"}
_TASK_STATUS = {"open": "requested", "contacted": "in-progress", "closed": "completed"}
_TELECOM = {"phone": "phone", "email": "email"}


@dataclass(frozen=True)
class Disclosure:
    identify: bool      # the sender id (a phone number or chat id on messaging channels)
    contact: bool       # the contact details a patient consented to pass on
    text: bool          # reasons unredacted


REDACTED = Disclosure(identify=False, contact=False, text=False)
WEBHOOK = Disclosure(identify=False, contact=True, text=True)
FULL = Disclosure(identify=True, contact=True, text=True)


# --- the record ---------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def outcome_json(outcome: TriageOutcome) -> dict:
    return {"id": outcome.id, "event_key": outcome.event_key, "level": outcome.level,
            "red_flags": list(outcome.red_flags or []), "rules": list(outcome.rules or []),
            "protocol_version": outcome.protocol_version, "plan": list(outcome.plan or []),
            "reason": outcome.reason, "sources": list(outcome.sources or []),
            "created_at": _iso(outcome.created_at), "source": outcome.source}


def callback_json(handoff: HandoffRequest) -> dict:
    return {"id": handoff.id, "contact_method": handoff.contact_method,
            "contact_value": handoff.contact_value if handoff.consented else "",
            "consented": handoff.consented, "level": handoff.level, "status": handoff.status,
            "created_at": _iso(handoff.created_at)}


def _statuses_from_raw(raw) -> tuple[dict[str, str], dict[str, str]]:
    """(finding -> status, question id -> answer) from a triage_outcomes.findings value, in any of
    the shapes it is stored in: the action server's {finding: status} (screening answers under
    "screen.<question>"), the projector's {"entities": [...]}, or {status: [findings]}."""
    statuses: dict[str, str] = {}
    answers: dict[str, str] = {}
    if not isinstance(raw, dict):
        return statuses, answers
    if isinstance(raw.get("entities"), list):
        for entity in raw["entities"]:
            if isinstance(entity, dict) and entity.get("entity", "finding") == "finding":
                status = _mention_status(entity.get("status"), entity.get("experiencer"))
                if status:
                    statuses[str(entity.get("value"))] = status
        return statuses, answers
    for key, value in raw.items():
        if isinstance(value, list):
            for finding in value:
                if key in _DECIDED:
                    statuses[str(finding)] = key
        elif isinstance(value, str) and key.startswith("screen."):
            if value in ANSWERS:
                answers[key.removeprefix("screen.")] = ANSWERS[value]
        elif value in _DECIDED:
            statuses[key] = value
    return statuses, answers


def _mention_status(status: str | None, experiencer: str | None) -> str | None:
    if experiencer not in (None, "patient"):
        return "someone_else"
    return status if status in ("present", "absent", "past") else None


def _transcript_statuses(session: Session, sender_id: str) -> dict[str, str]:
    """Past findings and someone else's, from the conversation's events (the triage state keeps
    neither): the latest mention of each finding."""
    rows = session.execute(select(Event.type_name, Event.timestamp, Event.data)
                           .where(Event.sender_id == sender_id).order_by(Event.id)).all()
    found: dict[str, str] = {}
    for finding in build_transcript(rows).findings:
        if finding.hypothetical:
            continue
        status = _mention_status(finding.status, finding.experiencer)
        if status:
            found[finding.value] = status
    return found


def conversation_record(session: Session, sender_id: str, *,
                        outcomes: Iterable[TriageOutcome] | None = None,
                        callbacks: Iterable[HandoffRequest] | None = None) -> dict:
    """The project's JSON of a conversation: its outcomes and callback requests (all of them
    unless given), the findings with their status and the screening answers (from the latest
    outcome, then what the events add), with the raw sender id. Not for display as it is."""
    conversation = session.get(Conversation, sender_id)
    if outcomes is None:
        outcomes = session.execute(select(TriageOutcome).where(
            TriageOutcome.conversation_id == sender_id)
            .order_by(TriageOutcome.created_at, TriageOutcome.id)).scalars().all()
    if callbacks is None:
        callbacks = session.execute(select(HandoffRequest).where(
            HandoffRequest.conversation_id == sender_id)
            .order_by(HandoffRequest.created_at, HandoffRequest.id)).scalars().all()
    outcomes, callbacks = list(outcomes), list(callbacks)
    statuses: dict[str, str] = {}
    answers: dict[str, str] = {}
    if outcomes:
        statuses, answers = _statuses_from_raw(outcomes[-1].findings)
    for finding, status in _transcript_statuses(session, sender_id).items():
        statuses.setdefault(finding, status)
    return {
        "record_version": RECORD_VERSION,
        "conversation": {"id": sender_id,
                         "channel": conversation.channel if conversation else None,
                         "consent": conversation.consent if conversation else None,
                         "started_at": _iso(conversation.started_at) if conversation else None},
        "outcomes": [outcome_json(outcome) for outcome in outcomes],
        "callbacks": [callback_json(handoff) for handoff in callbacks],
        "findings": {f: statuses[f] for f in sorted(statuses) if f in knowledge().findings},
        "answers": {q: answers[q] for q in sorted(answers)},
        "recorded_at": _iso(utcnow()),
    }


def wire_json(record: dict, disclosure: Disclosure, key: str) -> dict:
    """The record as the project's JSON format shows it: a pseudonym for the conversation, the
    sender id only for FULL, contact details only when disclosed."""
    conversation = dict(record["conversation"])
    sender_id = conversation.pop("id")
    conversation["ref"] = conversation_label(sender_id, key)
    if disclosure.identify:
        conversation["sender_id"] = sender_id
    outcomes = [dict(o, reason=o.get("reason") if disclosure.text else redact(o.get("reason")))
                for o in record["outcomes"]]
    callbacks = [dict(c, contact_value=c["contact_value"] if disclosure.contact else None)
                 for c in record["callbacks"]]
    return {**record, "conversation": conversation, "outcomes": outcomes, "callbacks": callbacks}


# --- FHIR ---------------------------------------------------------------------------------------

def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def _coding(system: str, code: str, display: str | None = None) -> dict:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def _finding_concept(finding: str) -> dict:
    label = knowledge().findings[finding].label
    known = codes().findings.get(finding)
    coding = [_coding(known.system, known.code, known.display)] if known else []
    return {"coding": coding + [_coding(FINDING_SYSTEM, finding, label)], "text": label}


def _status_concept(status: str) -> dict:
    known = codes().statuses.get(status)
    concept: dict = {"text": FINDING_STATUS_TEXT[status]}
    if known:
        concept["coding"] = [_coding(known.system, known.code, known.display)]
    return concept


def _level_concept(level: str) -> dict:
    return {"coding": [_coding(LEVEL_SYSTEM, level, level.replace("_", " "))],
            "text": level.replace("_", " ")}


def _answer(answer: str) -> dict:
    return {"valueCoding": _coding(*_ANSWER_CODINGS[answer])}


def _questionnaire_items(record: dict) -> list[dict]:
    k = knowledge()
    by_id = {question.id: question for question in k.questions}
    items = []
    for question_id, answer in record["answers"].items():
        question = by_id.get(question_id)
        if question is None:
            continue
        item = {"linkId": question_id, "text": question.intro, "answer": [_answer(answer)]}
        parts = [{"linkId": f"{question_id}.{finding}", "text": k.findings[finding].ask,
                  "answer": [_answer(ANSWERS[record["findings"][finding]])]}
                 for finding in question.items if record["findings"].get(finding) in ANSWERS]
        if parts:
            item["item"] = parts
        items.append(item)
    return items


def _plan_text(step_ids: list[str]) -> str | None:
    steps = knowledge().plan_steps
    said = [steps[step].say or step.replace("_", " ") if step in steps else step.replace("_", " ")
            for step in step_ids]
    return " ".join(said) or None


def build_bundle(record: dict, disclosure: Disclosure, key: str, *,
                 message: dict | None = None) -> Bundle:
    """The record as a FHIR R4 Bundle, validated by fhir.resources as it is built (raises
    pydantic's ValidationError if anything is not valid FHIR). Ids are derived from the record,
    so the same record always gives the same bundle. For an outbox `message` the Bundle's
    identifier is its idempotency key, and its tags say the kind and the conversation's sequence."""
    k = knowledge()
    sender_id = record["conversation"]["id"]
    ref = conversation_label(sender_id, key)
    outcomes, callbacks = record["outcomes"], record["callbacks"]
    moment = record.get("recorded_at") or _iso(utcnow())
    entries: list[dict] = []

    def add(resource: dict, *name: str) -> str:
        resource_id = _uuid(ref, resource["resourceType"], *name)
        resource["id"] = resource_id
        entries.append({"fullUrl": f"urn:uuid:{resource_id}", "resource": resource})
        return f"urn:uuid:{resource_id}"

    identifiers = [{"system": CONVERSATION_REF, "value": ref}]
    if disclosure.identify:
        identifiers.append({"system": SENDER_ID, "value": sender_id})
    patient: dict = {"resourceType": "Patient", "identifier": identifiers}
    telecom = [{"system": _TELECOM[c["contact_method"]], "value": c["contact_value"]}
               for c in callbacks if disclosure.contact and c.get("consented")
               and c.get("contact_value") and c.get("contact_method") in _TELECOM]
    if telecom:
        patient["telecom"] = list({(t["system"], t["value"]): t for t in telecom}.values())
    patient_ref = {"reference": add(patient)}

    basis = []
    questionnaire_items = _questionnaire_items(record)
    if questionnaire_items:
        version = next((o["protocol_version"] for o in reversed(outcomes) if o.get("protocol_version")),
                       k.protocol_version)
        basis.append({"reference": add({
            "resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": f"{QUESTIONNAIRE}|{version}", "subject": patient_ref,
            "authored": outcomes[-1]["created_at"] if outcomes else moment,
            "item": questionnaire_items}, "screen")})
    effective = outcomes[-1]["created_at"] if outcomes else moment
    for finding, status in record["findings"].items():
        basis.append({"reference": add({
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [_coding(OBSERVATION_CATEGORY, "survey", "Survey")]}],
            "code": _finding_concept(finding), "subject": patient_ref,
            "effectiveDateTime": effective, "valueCodeableConcept": _status_concept(status)},
            finding)})

    assessments = {}
    for outcome in outcomes:
        rationale = outcome.get("reason") if disclosure.text else redact(outcome.get("reason"))
        predictions = [{"outcome": {"text": "triage level"},
                        "qualitativeRisk": _level_concept(outcome["level"]),
                        **({"rationale": rationale} if rationale else {})}]
        for flag in outcome["red_flags"]:
            name = k.red_flags[flag].name if flag in k.red_flags else flag.replace("_", " ")
            flag_level = k.red_flags[flag].level if flag in k.red_flags else outcome["level"]
            predictions.append({"outcome": {"coding": [_coding(RED_FLAG_SYSTEM, flag, name)],
                                            "text": name},
                                "qualitativeRisk": _level_concept(flag_level)})
        version = outcome.get("protocol_version") or "unknown"
        assessment = {
            "resourceType": "RiskAssessment", "status": "final",
            "identifier": [{"system": OUTCOME_ID, "value": outcome["event_key"]}],
            "subject": patient_ref, "occurrenceDateTime": outcome["created_at"],
            "method": {"coding": [{**_coding(RULE_SYSTEM, rule), "version": version}
                                  for rule in outcome["rules"]],
                       "text": f"clinic triage protocol {version}"},
            "prediction": predictions,
            "note": [{"text": f"Source: {source}"} for source in outcome["sources"]]}
        if basis:
            assessment["basis"] = basis
        mitigation = _plan_text(outcome["plan"])
        if mitigation:
            assessment["mitigation"] = mitigation
        if not assessment["note"]:
            del assessment["note"]
        if not assessment["method"]["coding"]:
            del assessment["method"]["coding"]
        assessments[outcome["event_key"]] = add(assessment, outcome["event_key"])

    latest_assessment = list(assessments.values())[-1:] if assessments else []
    for callback in callbacks:
        name = str(callback["id"])
        method = callback["contact_method"]
        request = {
            "resourceType": "ServiceRequest", "status": "active", "intent": "proposal",
            "identifier": [{"system": CALLBACK_ID, "value": name}],
            "code": {"text": f"call the patient back by {method}"},
            "subject": patient_ref, "authoredOn": callback["created_at"],
            "priority": _PRIORITY.get(callback.get("level") or "", "routine")}
        if latest_assessment:
            request["reasonReference"] = [{"reference": latest_assessment[0]}]
        request_ref = add(request, name)
        add({"resourceType": "Task", "status": _TASK_STATUS.get(callback["status"], "requested"),
             "intent": "order", "priority": request["priority"],
             "identifier": [{"system": CALLBACK_ID, "value": name}],
             "businessStatus": {"text": callback["status"]},
             "description": f"Call the patient back by {method}",
             "focus": {"reference": request_ref}, "for": patient_ref,
             "authoredOn": callback["created_at"]}, name)

    bundle: dict = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    if message is None:
        bundle.update(id=_uuid(ref, "export"), timestamp=moment,
                      identifier={"system": SYSTEM + "export", "value": f"{ref}/export"})
    else:
        bundle.update(id=_uuid(message["idempotency_key"]), timestamp=message["created_at"],
                      identifier={"system": OUTBOX_MESSAGE, "value": message["idempotency_key"]},
                      meta={"tag": [_coding(MESSAGE_KIND, message["kind"]),
                                    _coding(SEQUENCE, str(message["sequence"]))]})
    return Bundle.parse_obj(bundle)


def export_conversation(session: Session, sender_id: str, *, disclosure: Disclosure,
                        key: str) -> Bundle | None:
    """The Bundle of one conversation (None if there is no such conversation)."""
    if session.get(Conversation, sender_id) is None:
        return None
    return build_bundle(conversation_record(session, sender_id), disclosure, key)
