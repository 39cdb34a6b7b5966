"""Triage rules: lay phrasing raises each red flag; negated, past, hypothetical or others' does not."""
from pathlib import Path

import pytest
import yaml

from knowledge.conversation import conversation_state
from knowledge.model import knowledge
from knowledge.nlp.pipeline import analyse
from knowledge.triage import evaluate
from knowledge.turns import turn_from_analysis

CASES = yaml.safe_load((Path(__file__).parent / "red_flag_cases.yaml").read_text())


def outcome_of(*messages: str):
    turns = []
    for text in messages:
        analysis = analyse(text)
        turns.append(turn_from_analysis(text, analysis))
    return conversation_state(turns).outcome()


def test_cases_cover_every_red_flag():
    assert set(CASES) == set(knowledge().red_flags)


@pytest.mark.parametrize("flag, message", [(f, m) for f, c in CASES.items() for m in c["fires"]])
def test_red_flag_fires_from_lay_phrasing(flag, message):
    outcome = outcome_of(message)
    assert flag in outcome.red_flags
    assert knowledge().level_rank(outcome.level) >= knowledge().level_rank(knowledge().red_flags[flag].level)


@pytest.mark.parametrize("flag, message", [(f, m) for f, c in CASES.items() for m in c["silent"]])
def test_red_flag_does_not_fire_when_negated_past_hypothetical_or_someone_elses(flag, message):
    assert flag not in outcome_of(message).red_flags


def test_cancer_history_with_new_leg_weakness_is_an_emergency():
    outcome = outcome_of("I had bowel cancer three years ago", "now my left leg has gone weak")
    assert outcome.level == "emergency"
    assert "spinal_cord_compression" in outcome.red_flags
    assert "spinal_cord_compression.cancer_with_new_deficit" in outcome.rule_ids


def test_cancer_history_alone_with_back_pain_is_urgent_not_emergency():
    outcome = outcome_of("I had breast cancer years ago and my back hurts")
    assert outcome.level == "urgent"
    assert outcome.red_flags == ("malignancy",)


def test_the_most_urgent_level_wins_and_flags_are_listed_most_dangerous_first():
    outcome = outcome_of("my calf is swollen and red and my back has hurt for months",
                         "and I can't feel it when I wipe")
    assert outcome.level == "emergency"
    assert outcome.red_flags[0] == "cauda_equina"
    assert {"dvt", "persistent_pain"} <= set(outcome.red_flags)
    levels = [hit.level for hit in outcome.hits]
    assert levels == sorted(levels, key=knowledge().level_rank, reverse=True)


def test_every_outcome_names_its_rules_sources_and_protocol_version():
    outcome = outcome_of("I fell off the roof and my back hurts")
    assert outcome.protocol_version == knowledge().protocol_version
    hit = next(h for h in outcome.hits if h.flag == "major_trauma")
    assert hit.rule_id == "major_trauma.serious_accident"
    assert hit.findings == ("major_trauma",)
    assert "nhs_back_pain" in hit.sources


def test_nothing_worrying_is_self_care_with_no_flags():
    outcome = evaluate({"calf_tension": "present", "night_cramps": "present"})
    assert (outcome.level, outcome.red_flags, outcome.hits) == ("self_care", (), ())


def test_pending_questions_come_most_dangerous_first_and_skip_what_is_known():
    k = knowledge()
    outcome = evaluate({"back_pain": "present", "saddle_numbness": "absent", "fever": "absent"})
    ids = [q.id for q in outcome.pending]
    order = [q.id for q in k.questions]
    assert ids == sorted(ids, key=order.index)
    assert ids[0] == "cauda_equina"  # bladder, bowel and both legs are still unknown
    assert "spinal_infection" in ids  # fever known, the other items not
    everything_known = {i: "absent" for i in k.question("major_trauma").items}
    assert "major_trauma" not in [q.id for q in evaluate({"back_pain": "present", **everything_known}).pending]


def test_only_questions_that_could_raise_the_level_stay_pending():
    outcome = evaluate({"back_pain": "present", "persistent_pain": "present"})
    assert outcome.level == "routine"
    pending = {q.flag for q in outcome.pending}
    assert "radiculopathy" not in pending  # routine cannot raise a routine outcome
    assert "cauda_equina" in pending


def test_a_yes_to_a_screening_question_fires_its_flag():
    outcome = evaluate({"back_pain": "present", "screen.cauda_equina": "present"})
    assert outcome.level == "emergency"
    assert "cauda_equina.answered_yes" in outcome.rule_ids


def test_after_back_pain_with_a_fever_it_asks_whether_they_are_very_unwell():
    outcome = evaluate({"back_pain": "present", "fever": "present"})
    assert outcome.level == "urgent"
    assert "spinal_infection_unwell" in [q.id for q in outcome.pending]
    assert "spinal_infection" not in [q.id for q in outcome.pending]   # its other items cannot raise the level
    assert evaluate({"back_pain": "present", "fever": "present", "very_unwell": "present"}).level == "emergency"


def test_red_skin_on_the_calf_asks_what_would_make_it_an_emergency():
    outcome = evaluate({"calf_red": "present", "calf_pain": "present"})
    assert "cellulitis" in [q.id for q in outcome.pending]
    assert evaluate({"calf_red": "present", "spreading_redness": "present"}).level == "emergency"
