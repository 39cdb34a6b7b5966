"""Explanations trace the graph; the plan follows the clinic's order; messages say what to do."""
from knowledge.conversation import ConversationState
from knowledge.explain import explain, nerve_supply, pick_topic, topic_for_findings
from knowledge.messages import escalation_message, outcome_messages, question_message
from knowledge.model import knowledge
from knowledge.plan import build_plan, step_order
from knowledge.triage import evaluate

CONTACT = {"emergency_number": "112", "urgent_number": "111", "clinic_phone": "01632 960000",
           "clinic_hours": "Mon-Fri 08:00-18:00"}


def test_night_cramps_trace_to_calf_muscles_tibial_nerve_and_s1_l5_roots():
    answer = explain("night_cramps")
    for words in ("gastrocnemius", "soleus", "tibial nerve", "S1 nerve root", "L5 nerve root"):
        assert words in answer.text
    assert answer.text.index("gastrocnemius") < answer.text.index("tibial nerve") < answer.text.index("S1")
    used = {f["fact"] for f in answer.facts}
    assert {"night_cramps affects calf_muscles", "soleus innervated_by tibial_nerve",
            "night_cramps signals root_irritation"} <= used
    assert answer.sources == ["clinic_article"]


def test_back_pain_is_explained_through_the_calves_to_the_nerve_roots():
    answer = explain("lower_back_pain")
    text = answer.text
    assert text.index("tight calves") < text.index("tibial nerve") < text.index("S1 nerve root")
    used = {f["fact"] for f in answer.facts}
    assert {"lower_back_pain causes calf_tension", "calf_tension signals root_irritation"} <= used


def test_what_the_soleus_is_and_does():
    text = explain("soleus").text
    assert "does not cross the knee" in text
    assert "steady" in text and "tibial nerve" in text


def test_which_nerve_and_root_supply_a_muscle():
    assert nerve_supply("lateral_gastrocnemius")["roots"] == ["l5_root"]
    supply = nerve_supply("calf_muscles")
    assert supply["nerves"] == ["tibial_nerve"]
    assert set(supply["roots"]) == {"s1_root", "l5_root"}
    assert nerve_supply("dorsiflexors") | {"facts": []} == {"nerves": ["peroneal_nerve"], "roots": ["l5_root"],
                                                             "facts": []}


def test_why_crossing_the_knees_matters():
    answer = explain("crossing_knees")
    text = answer.text
    assert text.index("peroneal nerve") < text.index("dorsiflexors")
    assert "crossing_knees aggravates peroneal_nerve" in {f["fact"] for f in answer.facts}


def test_why_heel_walking_comes_first():
    text = explain("heel_walking").text
    assert "shin muscles" in text and "before" in text


def test_unknown_topic_offers_what_it_can_explain():
    assert "soleus" in explain("kidneys").text


def test_most_specific_topic_answers_a_question():
    assert pick_topic(["calf_muscles", "night_cramps"]) == "night_cramps"
    assert topic_for_findings({"back_pain": "present", "night_cramps": "present"}) == "night_cramps"


def test_clinic_order_dorsiflexors_then_calves_then_related_then_habits_then_root_then_safety_net():
    order = step_order()
    assert order.index("heel_walking") < order.index("gastrocnemius_stretch") < order.index("soleus_stretch")
    assert order.index("soleus_stretch") < order.index("related_muscles") < order.index("lower_heels")
    assert order.index("lower_heels") < order.index("root_cause_assessment")
    assert order.index("strain_first_days") < order.index("strain_return")
    assert order[-1] == "safety_net"


def test_plan_is_tailored_to_what_was_reported():
    cramps = [s.id for s in build_plan({"night_cramps": "present"})]
    assert cramps[0] == "heel_walking" and cramps[-1] == "safety_net"
    assert "lower_heels" not in cramps and "related_muscles" not in cramps
    heels = [s.id for s in build_plan({"calf_tension": "present", "high_heels": "present"})]
    assert "lower_heels" in heels and heels.index("lower_heels") > heels.index("soleus_stretch")
    gastro = next(s for s in build_plan({"night_cramps": "present"}) if s.id == "gastrocnemius_stretch")
    assert any("before bed" in note for note in gastro.notes)
    assert not next(s for s in build_plan({"calf_tension": "present"}) if s.id == "gastrocnemius_stretch").notes


def test_question_names_only_what_is_still_unknown():
    k = knowledge()
    message = question_message(k.question("cauda_equina"), {"back_pain": "present", "saddle_numbness": "absent"})
    assert "bottom, genitals" not in message["text"] and "peeing" in message["text"]
    assert message["custom"] == {"ask": "cauda_equina"}
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny", "/unsure"]


def test_emergency_message_says_call_now_what_to_say_and_not_to_drive():
    findings = {"back_pain": "present", "bladder_dysfunction": "present"}
    message = escalation_message(evaluate(findings), CONTACT, findings)
    text = message["text"]
    assert text.startswith("This could be serious. Please call 112 now.")
    assert "Tell them you have: new trouble peeing" in text and "Don't drive yourself" in text
    triage = message["custom"]["triage"]
    assert triage["level"] == "emergency" and triage["red_flags"] == ["cauda_equina"]
    assert triage["rules"] == ["cauda_equina.saddle_or_sphincter"] and triage["call"] == "112"
    assert triage["protocol_version"] == knowledge().protocol_version


def test_self_care_outcome_has_level_and_why_then_ordered_plan_then_safety_net():
    state = ConversationState(findings={"night_cramps": "present", "back_pain": "present"})
    decision, *rest = outcome_messages(state, CONTACT)
    plans = [m for m in rest if "plan" in m["custom"]]
    safety = next(m for m in rest if "safety_net" in m["custom"])
    assert decision["custom"]["triage"]["level"] == "self_care"
    assert decision["custom"]["triage"]["plan"][-1] == "safety_net"
    assert decision["custom"]["triage"]["presentations"] == ["low_back_pain", "night_cramps"]
    assert "Most back pain is not caused by anything serious" in decision["text"]
    ids = [step["id"] for plan in plans for step in plan["custom"]["plan"]]
    assert ids.index("heel_walking") < ids.index("cramp_relief") and "keep_active" in ids
    assert safety["text"].startswith("Know when to get help") and "112" in safety["text"]


def test_calf_pain_on_walking_that_eases_with_rest_gets_a_circulation_check_not_calf_stretches():
    k = knowledge()
    plan = build_plan({"claudication_pattern": "present", "calf_tension": "present", "back_pain": "present"}, k)
    ids = [step.id for step in plan]
    assert not {"heel_walking", "gastrocnemius_stretch", "soleus_stretch", "root_cause_assessment"} & set(ids)
    assert "circulation_check" in ids and "keep_active" in ids   # the back still gets its steps
    check = next(step for step in plan if step.id == "circulation_check")
    assert "nice_cg147" in check.sources and "keep walking" in check.said.lower()
    assert [s.id for s in build_plan({"calf_tension": "present"}, k)][:3] == \
        ["heel_walking", "gastrocnemius_stretch", "soleus_stretch"]   # without it, the clinic's order


def test_a_plan_out_of_the_clinics_order_does_not_claim_it():
    k = knowledge()
    texts = [m["text"] for m in outcome_messages(ConversationState(findings={"claudication_pattern": "present"}), {
        "emergency_number": "999", "urgent_number": "111", "clinic_phone": "0", "clinic_hours": "", "clinic_name": ""}, k)]
    plan = next(text for text in texts if "self-care plan" in text)
    assert plan.startswith(k.advice["plan_intro_other"]) and "blood flow in your legs" in plan
    assert any("stretching the calf does not treat it" in text for text in texts)
