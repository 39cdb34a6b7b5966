"""knowledge/data/snomed.yaml: every coded finding exists, every code is a well-formed SNOMED CT
concept id, and a mistyped code or an unknown finding stops the load."""
import pytest

from knowledge.codes import codes, is_concept_id, load_codes
from knowledge.model import KnowledgeError, knowledge


def test_every_coded_finding_exists_and_every_code_is_well_formed():
    loaded = codes()
    assert loaded.source.publisher == "SNOMED International"
    assert set(loaded.findings) <= set(knowledge().findings)
    assert {"back_pain", "chest_pain", "fever"} <= set(loaded.findings)
    assert {code.code for code in loaded.statuses.values()} == {"52101004", "2667000"}
    assert all(is_concept_id(code.code) for code in [*loaded.findings.values(), *loaded.statuses.values()])


@pytest.mark.parametrize("code, valid", [("279039007", True), ("22298006", True),
                                         ("279039008", False),   # last digit mistyped
                                         ("297039007", False),   # two digits swapped
                                         ("279039017", False),   # not a concept's partition
                                         ("12345", False), ("27903900x", False)])
def test_the_check_digit_catches_typing_mistakes(code, valid):
    assert is_concept_id(code) is valid


def test_a_bad_entry_stops_the_load(tmp_path):
    path = tmp_path / "snomed.yaml"
    base = ("version: 1\nsource: {title: t, publisher: p, location: l}\nsystem: http://snomed.info/sct\n"
            "statuses: {}\nfindings:\n")
    path.write_text(base + '  back_pain: {code: "279039008", display: Low back pain (finding)}\n')
    with pytest.raises(KnowledgeError, match="check digit"):
        load_codes(path)
    path.write_text(base + '  not_a_finding: {code: "279039007", display: Low back pain (finding)}\n')
    with pytest.raises(KnowledgeError, match="not_a_finding"):
        load_codes(path)
