"""The learned reader proposes; the rules and the patient's answer decide."""
from pathlib import Path

import pytest

from knowledge.conversation import conversation_state
from knowledge.nlp import learned
from knowledge.nlp.pipeline import analyse
from knowledge.turns import Turn

WEIGHT_LOSS = "lost a load of weight and I'm not even trying, back aches"


def _turn(text: str, asked: str | None = None, learned_reader: bool = True) -> Turn:
    analysis = analyse(text, learned=learned_reader)
    return Turn(text, tuple((m.finding, m.status) for m in analysis.mentions), analysis.answer, None, 0.0, asked)


def test_the_reader_is_trained_on_dev_splits_only():
    names = [p.name for p in learned.training_files()]
    assert names and all(name.startswith("dev") for name in names)
    assert not any("test" in name for name in names)


def test_what_the_reader_adds_is_only_ever_suggested():
    with_reader = analyse(WEIGHT_LOSS)
    rules_only = {m.finding for m in analyse(WEIGHT_LOSS, learned=False).mentions}
    added = [m for m in with_reader.mentions if m.finding not in rules_only]
    assert added, "the reader should propose the weight loss the rules do not read"
    assert all(m.status == "suggested" for m in added)


def test_a_proposal_asks_its_confirming_question_and_does_not_escalate_alone():
    state = conversation_state([_turn(WEIGHT_LOSS)])
    outcome = state.outcome()
    assert outcome.level not in ("emergency", "urgent")
    assert outcome.pending and outcome.pending[0].id == "malignancy"


def test_the_patients_no_overrides_the_proposal():
    state = conversation_state([_turn(WEIGHT_LOSS), _turn("no, I'm on a diet actually", asked="malignancy")])
    assert state.findings.get("weight_loss") == "absent"


def test_the_reader_never_overrides_what_the_rules_read():
    # the rules read the denial; the reader may not add the same finding back as suggested
    statuses = [m.status for m in analyse("no numbness down below at all, just back ache").mentions
                if m.finding == "saddle_numbness"]
    assert statuses and "suggested" not in statuses


def test_without_a_corpus_or_a_saved_reader_the_rules_work_alone(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(learned, "CORPUS", tmp_path)
    monkeypatch.setattr(learned, "MODEL_PATH", tmp_path / "missing.pickle")
    learned.default_reader.cache_clear()
    try:
        assert learned.default_reader() is None
    finally:
        learned.default_reader.cache_clear()


@pytest.mark.parametrize("text", ["hi", "yes", "", "   "])
def test_greetings_and_bare_answers_get_no_proposal(text):
    reader = learned.default_reader()
    assert reader is not None and reader.propose(text) == []


def test_a_suggestion_asks_only_where_a_yes_could_raise_the_level():
    from knowledge.triage import evaluate
    # a weak leg suggested in sciatica: the cancer-and-weakness question cannot fire without cancer
    pending = [q.id for q in evaluate({"sciatica": "present", "leg_weakness": "suggested"}).pending]
    assert "spinal_cord_compression_deficit" not in pending
    # with a cancer history, the same suggestion is confirmed first
    pending = [q.id for q in evaluate({"back_pain": "present", "cancer_history": "present",
                                       "leg_weakness": "suggested"}).pending]
    assert pending[0] == "spinal_cord_compression_deficit"
