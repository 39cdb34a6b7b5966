"""The spaCy pipeline: lay words, typos, assertions, numbers, topics; saved and loaded by path."""
import json

import pytest
import spacy

from knowledge.nlp.normalize import stem
from knowledge.nlp.pipeline import (
    PIPELINE_VERSION,
    PipelineOutOfDate,
    analyse,
    build_pipeline,
    check_built,
    load_pipeline,
)


def findings(text: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for mention in analyse(text).mentions:
        if result.get(mention.finding) != "present":
            result[mention.finding] = mention.status
    return result


@pytest.mark.parametrize("text, finding", [
    ("my bum is numb", "saddle_numbness"),
    ("I can't wee properly", "bladder_dysfunction"),
    ("pins and needles in my foot", "leg_numbness"),
    ("my calfs are really tight", "calf_tension"),
    ("I can't feel it when I wipe", "saddle_numbness"),
    ("my foot slaps on the floor", "foot_drop"),
    ("charley horse in my calf most nights", "cramps_frequent"),
    ("my lower back is killing me", "back_pain"),
])
def test_lay_words_are_understood(text, finding):
    assert findings(text).get(finding) == "present"


@pytest.mark.parametrize("text, finding", [
    ("numbess in my legs", "bilateral_leg_symptoms"),
    ("tinglin in my foot", "leg_numbness"),
    ("my calf is swolen", "calf_swelling"),
    ("bad cramsp at night", "night_cramps"),
    ("sciatca down my leg", "sciatica"),
])
def test_typos_do_not_defeat_it(text, finding):
    assert findings(text).get(finding) == "present"


@pytest.mark.parametrize("word", ["light", "couch", "calm", "worse", "heals"])
def test_ordinary_words_are_not_corrected_into_symptoms(word):
    assert findings(f"the {word} is fine") == {}


def test_my_calves_cramp_at_night_example_fills_findings_with_status():
    result = findings("my calves cramp at night and my lower back aches, no numbness")
    assert result["night_cramps"] == "present"
    assert result["back_pain"] == "present"
    assert result["leg_numbness"] == "absent"


@pytest.mark.parametrize("text, finding, status", [
    ("no fever or chills", "fever", "absent"),
    ("I had sciatica years ago", "sciatica", "past"),
    ("what if my legs go numb?", "leg_numbness", "hypothetical"),
    ("my dad had cancer", "cancer_history", "other"),
    ("I had cancer ten years ago", "cancer_history", "present"),
    ("I've had numbness in my foot for 2 weeks", "leg_numbness", "present"),
])
def test_assertion_status(text, finding, status):
    assert findings(text)[finding] == status


def test_age_and_back_pain_duration_are_read():
    assert findings("I'm 72 and my back hurts")["older_age"] == "present"
    assert findings("I am 40")["older_age"] == "absent"
    assert findings("my back has hurt for 2 months")["persistent_pain"] == "present"
    assert "persistent_pain" not in findings("my foot has been numb for 2 months")


@pytest.mark.parametrize("text, answer", [
    ("yes", "affirm"), ("Yeah, both legs", "affirm"), ("not really", "deny"), ("Nope.", "deny"),
    ("only when I cough", "qualified_affirm"), ("I don't think so", "deny"), ("no idea", "unsure"),
    ("erm, maybe", "unsure"), ("my calf hurts", None),
])
def test_yes_no_answers(text, answer):
    assert analyse(text).answer == answer


@pytest.mark.parametrize("text, topic", [
    ("what is the soleus?", "soleus"), ("why heel walking first?", "heel_walking"),
    ("does crossing my legs matter?", "crossing_knees"), ("why do my calves cramp at night?", "night_cramps"),
])
def test_questions_name_graph_topics(text, topic):
    assert topic in analyse(text).topics


def test_but_is_a_conjunction_not_a_body_part():
    assert stem("butt") != stem("but")
    result = findings("my back hurts but I get tingling in my leg")
    assert "saddle_numbness" not in result and result["leg_numbness"] == "present"
    assert findings("my butt is numb")["saddle_numbness"] == "present"


def test_stemming_meets_plural_and_inflected_forms():
    assert stem("calves") == stem("calfs") == stem("calf")
    assert stem("swollen") == stem("swelling")
    assert stem("legs") != stem("leg")  # "legs" means both legs


def test_the_saved_pipeline_loads_by_path_with_plain_spacy(tmp_path):
    nlp = build_pipeline()
    nlp.to_disk(tmp_path / "pipe")
    loaded = spacy.load(tmp_path / "pipe")
    assert loaded.meta["version"] == PIPELINE_VERSION
    assert loaded.pipe_names == ["sentencizer", "clinic_normalizer", "concept_ruler", "topic_ruler",
                                 "clinic_findings", "clinic_context"]
    doc = loaded("no numbness down there")
    assert [s.label_ for s in doc.spans["findings"]] == ["saddle_numbness"]
    assert doc.spans["findings"][0]._.assertion.negated


def test_a_pipeline_built_from_other_data_is_refused(tmp_path):
    nlp = build_pipeline()
    nlp.to_disk(tmp_path / "pipe")
    meta = json.loads((tmp_path / "pipe" / "meta.json").read_text())
    meta["clinic_data_sha256"] = "stale"
    (tmp_path / "pipe" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(PipelineOutOfDate, match="make spacy"):
        load_pipeline(tmp_path / "pipe")
    with pytest.raises(PipelineOutOfDate, match="make spacy"):  # what Rasa's findings extractor checks
        check_built(tmp_path / "pipe")


def test_huge_and_odd_input_is_handled():
    assert findings("") == {}
    assert findings("😀😀😀 \x00 <script>alert(1)</script>") == {}
    long = "my back hurts. " * 700 + "I can't feel it when I wipe"
    assert findings(long)["saddle_numbness"] == "present"
