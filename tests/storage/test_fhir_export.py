"""FHIR R4 bundles of real triage outcomes (the knowledge's own rules and payloads), written through
the repository the action server uses: valid by fhir.resources, round-tripping, coded, redacted."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.riskassessment import RiskAssessment

from knowledge.conversation import ConversationState
from knowledge.messages import outcome_messages
from storage.db import session_factory
from storage.fhir_export import FULL, REDACTED, WEBHOOK, build_bundle, conversation_record, export_conversation
from testing import synthetic

pytestmark = pytest.mark.postgres

KEY = "test-secret-key"
CONTACT = {"emergency_number": "999", "urgent_number": "111", "clinic_phone": "01632 960000",
           "clinic_hours": "Mon-Fri 08:00-18:00", "clinic_name": "the clinic"}
T0 = 1_764_000_000.0
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
PHONE_SENDER = "whatsapp:+447700900461"
CALLBACK_NUMBER = "07700 900462"

EMERGENCY = {"back_pain": "present", "saddle_numbness": "present", "bladder_dysfunction": "absent",
             "bowel_dysfunction": "absent", "screen.cauda_equina": "present"}
SELF_CARE = {"night_cramps": "present", "calf_cramps": "present", "leg_injury": "absent",
             "calf_swelling": "absent"}
URGENT_SCREENED_UNSURE = {"back_pain": "present", "leg_weakness": "present",
                          "screen.spinal_cord_compression": "uncertain",
                          "cancer_history": "uncertain"}


def triage_payload(findings: dict) -> dict:
    """What the action server records: the knowledge's own decision for these findings."""
    messages = outcome_messages(ConversationState(findings=dict(findings)), CONTACT)
    return next(m["custom"]["triage"] for m in messages if "triage" in (m.get("custom") or {}))


def record(repository, sender_id: str, findings: dict, *, at: datetime = NOW, key: str = "user@1") -> dict:
    triage = triage_payload(findings)
    repository.record_outcome(
        conversation_id=sender_id, level=triage["level"], red_flags=triage["red_flags"],
        rules=triage["rules"], protocol_version=triage["protocol_version"], plan=triage["plan"],
        reason=triage["reason"], findings=dict(findings), channel="rest", created_at=at,
        event_key=key, sources=triage["sources"])
    return triage


def bundle_of(engine, sender_id: str, disclosure=REDACTED) -> Bundle:
    with session_factory(engine)() as session:
        return export_conversation(session, sender_id, disclosure=disclosure, key=KEY)


def resources(bundle: Bundle, kind: str) -> list:
    return [entry.resource for entry in bundle.entry if entry.resource.resource_type == kind]


def assert_round_trips(bundle: Bundle) -> None:
    text = bundle.json()
    again = Bundle.parse_raw(text)          # validates every resource again
    assert again.json() == text
    assert json.loads(again.json()) == json.loads(text)


def finding_statuses(bundle: Bundle) -> dict[str, str]:
    found = {}
    for observation in resources(bundle, "Observation"):
        finding = next(c.code for c in observation.code.coding if c.system.endswith(":finding"))
        found[finding] = observation.valueCodeableConcept.text
    return found


def test_an_emergency_bundle_is_valid_fhir_round_trips_and_says_what_fired(engine, repository):
    synthetic.store_events(engine, "emerg-1", synthetic.cauda_equina_conversation(T0))
    triage = record(repository, "emerg-1", EMERGENCY)
    bundle = bundle_of(engine, "emerg-1")

    assert_round_trips(bundle)
    assert bundle.type == "collection"
    [assessment] = resources(bundle, "RiskAssessment")
    assert isinstance(assessment, RiskAssessment)
    assert assessment.prediction[0].qualitativeRisk.coding[0].code == "emergency"
    assert [p.outcome.coding[0].code for p in assessment.prediction[1:]] == ["cauda_equina"]
    assert [c.code for c in assessment.method.coding] == triage["rules"]
    assert {c.version for c in assessment.method.coding} == {triage["protocol_version"]}
    assert [n.text for n in assessment.note] == [f"Source: {s}" for s in triage["sources"]]

    statuses = finding_statuses(bundle)
    assert statuses["saddle_numbness"] == "present" and statuses["bladder_dysfunction"] == "absent"
    back_pain = next(o for o in resources(bundle, "Observation")
                     if any(c.code == "back_pain" for c in o.code.coding))
    assert ("http://snomed.info/sct", "279039007") in {(c.system, c.code) for c in back_pain.code.coding}
    assert back_pain.valueCodeableConcept.coding[0].code == "52101004"   # SNOMED CT: present

    [answers] = resources(bundle, "QuestionnaireResponse")
    assert isinstance(answers, QuestionnaireResponse)
    [item] = answers.item
    assert (item.linkId, item.answer[0].valueCoding.code) == ("cauda_equina", "Y")
    assert {(part.linkId, part.answer[0].valueCoding.code) for part in item.item} == {
        ("cauda_equina.saddle_numbness", "Y"), ("cauda_equina.bladder_dysfunction", "N"),
        ("cauda_equina.bowel_dysfunction", "N")}
    assert resources(bundle, "ServiceRequest") == []


def test_a_self_care_bundle_carries_the_plan_and_no_red_flag(engine, repository):
    synthetic.store_events(engine, "self-1", synthetic.calf_cramp_conversation(T0))
    triage = record(repository, "self-1", SELF_CARE)
    bundle = bundle_of(engine, "self-1")

    assert_round_trips(bundle)
    [assessment] = resources(bundle, "RiskAssessment")
    assert [p.qualitativeRisk.coding[0].code for p in assessment.prediction] == ["self_care"]
    assert assessment.method.coding is None and triage["rules"] == []
    assert assessment.mitigation.startswith("Walk slowly on your heels")   # the plan, first step first
    assert finding_statuses(bundle) == {"night_cramps": "present", "calf_cramps": "present",
                                        "leg_injury": "absent", "calf_swelling": "absent"}
    assert resources(bundle, "QuestionnaireResponse") == []   # no screening question was asked


def test_a_callback_bundle_has_a_service_request_and_task_and_the_number_only_when_disclosed(
        engine, repository):
    synthetic.store_events(engine, PHONE_SENDER, synthetic.cauda_equina_conversation(T0))
    record(repository, PHONE_SENDER, URGENT_SCREENED_UNSURE)
    repository.record_handoff(conversation_id=PHONE_SENDER, contact_method="phone",
                              contact_value=CALLBACK_NUMBER, consented=True, level="urgent",
                              channel="whatsapp", created_at=NOW + timedelta(minutes=1))

    full = bundle_of(engine, PHONE_SENDER, FULL)
    assert_round_trips(full)
    [request] = resources(full, "ServiceRequest")
    [task] = resources(full, "Task")
    assert (request.status, request.priority) == ("active", "urgent")
    assert task.focus.reference == f"urn:uuid:{request.id}"
    assert task.status == "requested" and task.businessStatus.text == "open"
    [patient] = resources(full, "Patient")
    assert [(t.system, t.value) for t in patient.telecom] == [("phone", CALLBACK_NUMBER)]
    assert PHONE_SENDER in full.json()
    [answers] = resources(full, "QuestionnaireResponse")
    assert answers.item[0].answer[0].valueCoding.code == "asked-unknown"   # "not sure"

    with session_factory(engine)() as session:
        webhook = build_bundle(conversation_record(session, PHONE_SENDER), WEBHOOK, KEY)
    assert CALLBACK_NUMBER in webhook.json() and PHONE_SENDER not in webhook.json()


def test_a_redacted_bundle_holds_no_personal_detail(engine, repository):
    events = synthetic.cauda_equina_conversation(
        T0, channel="whatsapp", first_message="I'm Priya Sharma, 07700 900463, my back hurts")
    synthetic.store_events(engine, PHONE_SENDER, events)
    record(repository, PHONE_SENDER, EMERGENCY)
    repository.record_handoff(conversation_id=PHONE_SENDER, contact_method="email",
                              contact_value="priya.sharma@example.org", consented=True,
                              level="emergency", channel="whatsapp", created_at=NOW)

    text = bundle_of(engine, PHONE_SENDER, REDACTED).json()
    for personal in (PHONE_SENDER, "+447700900461", "07700", "Priya", "Sharma",
                     "priya.sharma@example.org"):
        assert personal not in text
    assert "whatsapp:ref-" in text          # the console's pseudonym, so staff can find it
    unredacted = bundle_of(engine, PHONE_SENDER, FULL).json()
    assert PHONE_SENDER in unredacted and "priya.sharma@example.org" in unredacted


def test_past_and_someone_elses_findings_are_told_apart(engine, repository):
    events = [
        synthetic.session_started(T0),
        synthetic.user(T0 + 1, "my dad had a fever, I had cancer years ago, my back hurts",
                       entities=[synthetic.finding("back_pain"),
                                 synthetic.finding("weight_loss", historical=True, role="past"),
                                 {**synthetic.finding("fever"),
                                  "assertion": {"negated": False, "historical": False,
                                                "hypothetical": False, "experiencer": "other"}}]),
    ]
    synthetic.store_events(engine, "mixed-1", events)
    record(repository, "mixed-1", {"back_pain": "present"})
    bundle = bundle_of(engine, "mixed-1")

    assert_round_trips(bundle)
    statuses = finding_statuses(bundle)
    assert statuses["back_pain"] == "present"
    assert statuses["weight_loss"] == "in the past, not now"
    assert statuses["fever"] == "reported about someone else, not the patient"
    assert all(isinstance(o, Observation) for o in resources(bundle, "Observation"))


def test_the_same_record_gives_the_same_bundle(engine, repository):
    synthetic.store_events(engine, "same-1", synthetic.cauda_equina_conversation(T0))
    record(repository, "same-1", EMERGENCY)
    with session_factory(engine)() as session:
        frozen = json.loads(json.dumps(conversation_record(session, "same-1")))
    assert build_bundle(frozen, WEBHOOK, KEY).json() == build_bundle(frozen, WEBHOOK, KEY).json()
