"""ConText assertions as a patient (or a clinician's note) would notice them."""
import re

import pytest
import spacy
from spacy.language import Language

from benchmarks.assertion import DEFAULT_DATA, evaluate, read_rows
from knowledge.nlp.context import Assertion, ContextEngine, ContextRulesError, assess


def assess_phrase(text: str, phrase: str) -> Assertion:
    start = text.lower().index(phrase.lower())
    return assess(text, start, start + len(phrase))


NEGATED = [
    ("no numbness down there", "numbness"),
    ("no fever or chills", "fever"),
    ("no fever or chills", "chills"),
    ("no numbness, tingling or weakness", "numbness"),
    ("no numbness, tingling or weakness", "tingling"),
    ("no numbness, tingling or weakness", "weakness"),
    ("I don't have any weakness, but my foot slaps when I walk", "weakness"),
    ("i dont have numbness", "numbness"),
    ("I haven't got any tingling", "tingling"),
    ("Never had sciatica", "sciatica"),
    ("I don't think I have a fever", "fever"),
    ("The numbness has gone", "numbness"),
    ("I DON'T HAVE ANY WEAKNESS", "weakness"),
    ("NO   SADDLE NUMBNESS", "saddle numbness"),
    # NegEx's own examples
    ("The patient denies   any DIAPHORESIS.", "diaphoresis"),
    ("Extremities: No clubbing, cyanosis, or edema.", "edema"),
    ("Pneumonia was   ruled out.", "pneumonia"),
    ("There is no evidence of pneumothorax.", "pneumothorax"),
    ("Fecal occult blood was negative.", "fecal occult blood"),
    ("The patient is free of pain.", "pain"),
]

AFFIRMED = [
    ("no fever but my back really hurts", "back really hurts"),
    ("I don't have any weakness, but my foot slaps when I walk", "my foot slaps"),
    # a negation inside the finding is part of the symptom
    ("I can't feel it when I wipe", "can't feel it when I wipe"),
    ("I can't pee", "can't pee"),
    ("I can't walk on my heels", "can't walk on my heels"),
    ("No fever and I can't pee", "can't pee"),
    ("No fever, I have bad back pain", "back pain"),
    ("Nothing helps my back pain", "back pain"),
    ("No change in the pleural effusion.", "pleural effusion"),
    ("Gram negative rods were seen.", "rods"),
    ("The MRI showed no biliary dilatation and was positive for gallstones.", "gallstones"),
    ("my back pain", "back pain"),
]


@pytest.mark.parametrize("text, phrase", NEGATED)
def test_negated(text, phrase):
    assert assess_phrase(text, phrase).negated


@pytest.mark.parametrize("text, phrase", AFFIRMED)
def test_affirmed(text, phrase):
    assert not assess_phrase(text, phrase).negated


@pytest.mark.parametrize("text, phrase", [
    ("I had sciatica years ago", "sciatica"),
    ("Years ago I had sciatica", "sciatica"),
    ("I used to get sciatica", "sciatica"),
    ("I've had back pain for the past 3 months", "back pain"),
    ("Past medical history of hypertension.", "hypertension"),
    ("Status post laminectomy.", "laminectomy"),
])
def test_historical(text, phrase):
    assert assess_phrase(text, phrase).historical


@pytest.mark.parametrize("text, phrase", [
    ("back pain for 3 days", "back pain"),
    ("Last year I hurt my back and now I have leg pain", "leg pain"),
    ("History of present illness: back pain since Monday.", "back pain"),
])
def test_not_historical(text, phrase):
    assert not assess_phrase(text, phrase).historical


@pytest.mark.parametrize("text, phrase", [
    ("what if my legs go numb?", "legs go numb"),
    ("I'm worried about cauda equina", "cauda equina"),
    ("Should I worry about numbness?", "numbness"),
    ("Is it possible I have a slipped disc?", "slipped disc"),
    ("My back hurts, what happens if I lose bladder control?", "lose bladder control"),
    ("Return to the ED if he develops fever.", "fever"),
])
def test_hypothetical(text, phrase):
    assert assess_phrase(text, phrase).hypothetical


@pytest.mark.parametrize("text, phrase", [
    ("If I bend over, pain shoots down my leg", "pain shoots down my leg"),
    ("I could barely walk", "walk"),
])
def test_not_hypothetical(text, phrase):
    assert not assess_phrase(text, phrase).hypothetical


@pytest.mark.parametrize("text, phrase, experiencer", [
    ("my dad had cancer", "cancer", "other"),
    ("My mum has sciatica and I have back pain", "sciatica", "other"),
    ("My mum has sciatica and I have back pain", "back pain", "patient"),
    ("Sciatica runs in the family", "sciatica", "other"),
    ("Family history of colon cancer.", "colon cancer", "other"),
    ("My family doctor said I have sciatica", "sciatica", "patient"),
    ("I have sciatica", "sciatica", "patient"),
])
def test_experiencer(text, phrase, experiencer):
    assert assess_phrase(text, phrase).experiencer == experiencer


def test_own_history_of_cancer_is_historical_not_negated():
    assert assess_phrase("history of cancer", "cancer") == Assertion(
        negated=False, historical=True, hypothetical=False, experiencer="patient", triggers=("history of",))


def test_scope_ends_at_the_sentence_and_at_a_line_break():
    assert not assess_phrase("No fever. Back pain is bad.", "back pain").negated
    assert not assess_phrase("no numbness\nback pain is severe", "back pain").negated


def test_triggers_name_the_phrases_that_applied():
    result = assess_phrase("My dad never had sciatica years ago", "sciatica")
    assert result.triggers == ("dad", "never had", "years ago")


def test_assess_doc_handles_several_spans_of_a_shared_pipeline():
    nlp = spacy.blank("en")
    engine = ContextEngine(nlp)
    doc = nlp("No fever or chills but my back hurts.")
    fever, chills, back = engine.assess_doc(doc, [doc[1:2], doc[3:4], doc[6:8]])
    assert fever.negated and chills.negated and not back.negated


def test_pipeline_component_sets_span_assertion():
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "SYMPTOM", "pattern": "numbness"}])
    nlp.add_pipe("clinic_context")
    doc = nlp.make_doc("My dad has numbness. I have no weakness.")
    doc.spans["findings"] = [doc[8:9]]
    for _, component in nlp.pipeline:
        doc = component(doc)
    assert doc.ents[0]._.assertion.experiencer == "other"
    assert doc.spans["findings"][0]._.assertion.negated


@Language.component("test_context_scramble_norms")
def scramble_norms(doc):
    for token in doc:
        token.norm_ = token.text[::-1]
    return doc


def test_upstream_components_that_rewrite_norms_or_merge_tokens_hide_no_trigger():
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "SYMPTOM", "pattern": "back pain"}])
    nlp.add_pipe("merge_entities")
    nlp.add_pipe("test_context_scramble_norms")
    nlp.add_pipe("clinic_context")
    doc = nlp("I don't have back pain")
    assert doc.ents[0]._.assertion.negated


@pytest.mark.parametrize("entry, complaint", [
    ("{category: NEGATED_EXISTENCE, direction: SIDEWAYS, terms: ['no']}", "direction 'SIDEWAYS'"),
    ("{category: NEGATION, direction: FORWARD, terms: ['no']}", "category 'NEGATION'"),
    ("{category: NEGATED_EXISTENCE, direction: FORWARD, term: ['no']}", "unknown keys ['term']"),
    ("{category: NEGATED_EXISTENCE, direction: FORWARD, terms: [no]}", "non-empty strings"),
    ("{category: HISTORICAL, direction: FORWARD, terms: ['prior'], max_tokens: 0}", "max_tokens"),
    ("{category: HISTORICAL, direction: FORWARD, patterns: [[{FOO: 1}]]}", "invalid pattern"),
])
def test_malformed_rules_name_the_file_and_entry(tmp_path, entry, complaint):
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"rules:\n  - {{category: ALL, direction: TERMINATE, terms: ['but']}}\n  - {entry}\n")
    with pytest.raises(ContextRulesError) as error:
        ContextEngine(rules_path=rules)
    message = str(error.value)
    assert str(rules) in message and "rules[1]" in message and complaint in message


def test_duplicate_term_is_reported(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n"
                     "  - {category: NEGATED_EXISTENCE, direction: FORWARD, terms: ['no']}\n"
                     "  - {category: NEGATED_EXISTENCE, direction: BACKWARD, terms: ['No']}\n")
    with pytest.raises(ContextRulesError, match=re.escape("rules[1]") + ".*already listed in rules\\[0\\]"):
        ContextEngine(rules_path=rules)


def test_benchmark_floor():
    """Regression floor, well below the measured figures (see benchmarks/assertion.py)."""
    figures, _ = evaluate(read_rows(DEFAULT_DATA), ContextEngine())
    assert figures["negation"]["f1"] >= 0.90
    assert figures["temporality"]["accuracy"] >= 0.90
    assert figures["experiencer"]["accuracy"] >= 0.99
    assert figures["unlocated"] <= 15
