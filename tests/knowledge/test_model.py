"""The knowledge data: every fact cited, malformed data rejected with a clear error."""
import re
import shutil
from pathlib import Path

import pytest
import yaml

from knowledge.model import DATA_DIR, LEVELS, KnowledgeError, knowledge, load_knowledge

RED_FLAGS_DOC = Path(__file__).resolve().parents[3] / "shared" / "sources" / "red-flags.md"


def test_every_node_and_relation_cites_a_known_source_and_claim():
    k = knowledge()
    facts = list(k.nodes.values()) + list(k.relations)
    assert len(facts) > 100
    for fact in facts:
        assert fact.source.doc in k.sources
        assert len(fact.source.claim) > 10


# Routes that are not red flags of the clinic's table: under 16s are outside NICE NG59 (over 16s)
# and the service, and are sent to their own GP the same day.
OUTSIDE_THE_TABLE = {"under_16"}


def test_every_red_flag_rule_traces_to_cited_sources():
    k = knowledge()
    for flag in k.red_flags.values():
        assert "red_flags_table" in flag.sources or flag.id in OUTSIDE_THE_TABLE
        assert all(source in k.sources for source in flag.sources)
        assert flag.rules and all(rule.flag == flag.id for rule in flag.rules)


def test_protocol_has_exactly_the_red_flags_and_levels_of_the_clinic_table():
    rows = re.findall(r"^\| `([a-z_]+)` \| [^|]+ \| ([a-z_]+)", RED_FLAGS_DOC.read_text(), re.M)
    table = dict(rows)
    k = knowledge()
    in_table = [f for f in k.red_flags if f not in OUTSIDE_THE_TABLE]
    assert list(table) == in_table, "same flags, same (most dangerous first) order"
    for flag_id, level in table.items():
        assert k.red_flags[flag_id].level == level


def test_every_finding_a_rule_needs_can_be_learned():
    """A rule is dead if its findings can neither be said in words nor asked about."""
    k = knowledge()
    askable = {item for q in k.questions for item in q.items}
    special = {"older_age"}  # read from a stated age
    for rule in k.rules:
        for group in rule.when:
            for finding in group:
                assert k.findings[finding].detect or finding in askable or finding in special, (rule.id, finding)


def test_levels_are_ordered_most_urgent_first():
    k = knowledge()
    assert [k.level_rank(level) for level in LEVELS] == [3, 2, 1, 0]


@pytest.fixture
def data_copy(tmp_path):
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("file, change, expected", [
    ("graph.yaml", lambda d: d["relations"].append({"subject": "soleus", "relation": "pokes", "object": "tibia",
                                                    "source": {"doc": "clinic_article", "claim": "x" * 20}}),
     r"graph.yaml: relations\[\d+\] soleus pokes tibia: unknown relation type 'pokes'"),
    ("graph.yaml", lambda d: d["relations"][0].pop("source"),
     r"graph.yaml: relations\[0\] medial_gastrocnemius part_of gastrocnemius: missing 'source'"),
    ("graph.yaml", lambda d: d["nodes"][0]["source"].update(doc="a_blog"),
     r"graph.yaml: nodes\[0\] calf_muscles: source doc 'a_blog' is not in sources.yaml"),
    ("graph.yaml", lambda d: d["relations"].append({"subject": "soleus", "relation": "root_of", "object": "tibia",
                                                    "source": {"doc": "clinic_article", "claim": "x" * 20}}),
     r"graph.yaml: relations\[\d+\] soleus root_of tibia: soleus is a muscle; root_of takes \('nerve_root',\)"),
    ("red_flags.yaml", lambda d: d["red_flags"]["dvt"]["rules"][0]["when"][0].append("calf_itch"),
     r"red_flags.yaml: dvt.rules\[0\] dvt.swollen_with_signs: unknown findings \['calf_itch'\]"),
    ("red_flags.yaml", lambda d: d["red_flags"]["dvt"].update(level="soon"),
     r"red_flags.yaml: dvt: 'level' must be one of"),
    ("red_flags.yaml", lambda d: d["unsure_answers"]["levels"].update(urgent="emergency"),
     r"red_flags.yaml: unsure_answers.levels: must map levels of .* to less urgent ones"),
    ("findings.yaml", lambda d: d["findings"]["calf_pain"]["detect"][0].update(all=["sym.pain", "site.kalf"]),
     r"findings.yaml: calf_pain.detect\[0\]: unknown concepts \['site.kalf'\]"),
    ("plan.yaml", lambda d: d["steps"].pop("heel_walking"),
     r"plan.yaml: steps: no entry for steps \['heel_walking'\]"),
    ("plan.yaml", lambda d: d["steps"]["heel_walking"].pop("say"),
     r"plan.yaml: heel_walking: 'say' must be non-empty text"),
    ("presentations.yaml", lambda d: d["presentations"]["calf_strain"]["when"][1].append("pulled_calf"),
     r"presentations.yaml: calf_strain.when: unknown findings \['pulled_calf'\]"),
    ("presentations.yaml", lambda d: d["presentations"]["claudication"].update(unless=["cold_feet"]),
     r"presentations.yaml: claudication: unknown findings \['cold_feet'\]"),
    ("presentations.yaml", lambda d: d["presentations"]["night_cramps"]["steps"].append("quinine"),
     r"presentations.yaml: night_cramps: unknown steps \['quinine'\]"),
    ("presentations.yaml", lambda d: d["presentations"]["sciatica"]["safety_net"].update(watch=["sciatica"]),
     r"presentations.yaml: sciatica: unknown red flags \['sciatica'\]"),
    ("presentations.yaml", lambda d: d["presentations"]["calf_strain"]["sources"][0].update(doc="a_forum"),
     r"presentations.yaml: calf_strain.sources\[0\]: source doc 'a_forum' is not in sources.yaml"),
    ("presentations.yaml", lambda d: d["presentations"]["calf_strain"]["sources"][0].pop("section"),
     r"presentations.yaml: calf_strain.sources\[0\]: a citation of self-care-guidance.md names its section"),
    ("presentations.yaml", lambda d: d["presentations"]["calf_strain"].update(sources=[
        {"doc": "nhs_sprains_strains", "claim": "x" * 20}]),
     r"presentations.yaml: calf_strain: needs a source: a section of self-care-guidance.md or the clinic's article"),
    ("presentations.yaml", lambda d: d["presentations"]["claudication"].pop("sources"),
     r"presentations.yaml: claudication: needs a source"),
    ("presentations.yaml", lambda d: d["presentations"]["sciatica"].update(fallback=True),
     r"presentations.yaml: presentations: exactly one presentation must be the `fallback`"),
    ("presentations.yaml", lambda d: d["presentations"]["sciatica"].update(level="soonish"),
     r"presentations.yaml: sciatica: 'level' must be one of"),
])
def test_malformed_data_is_rejected_naming_file_and_entry(data_copy, file, change, expected):
    _edit(data_copy / file, change)
    with pytest.raises(KnowledgeError, match=expected):
        load_knowledge(data_copy)


def test_unparseable_yaml_names_the_file(data_copy):
    (data_copy / "sources.yaml").write_text("sources: [unclosed")
    with pytest.raises(KnowledgeError, match="sources.yaml: not valid YAML"):
        load_knowledge(data_copy)


def test_every_suggestive_wording_has_a_confirming_question():
    k = knowledge()
    asked_about = {item for question in k.questions for item in question.items}
    for finding in k.findings.values():
        if any(rule.suggestive for rule in finding.detect):
            assert finding.id in asked_about, f"{finding.id} is only suggested but no question confirms it"
