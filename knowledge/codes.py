"""Standard codes for findings (knowledge/data/snomed.yaml): SNOMED CT where a code is well known,
nothing otherwise (the export then names the finding in words)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge.model import DATA_DIR, KnowledgeError, Source, knowledge

CODES_FILE = DATA_DIR / "snomed.yaml"

# SNOMED CT identifiers end in a Verhoeff check digit, after a two-digit partition ("00": a
# concept in the international release): a mistyped code fails the check.
_VERHOEFF_D = ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
               (2, 3, 4, 0, 1, 7, 8, 9, 5, 6), (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
               (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
               (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
               (8, 7, 6, 5, 9, 3, 2, 1, 0, 4), (9, 8, 7, 6, 5, 4, 3, 2, 1, 0))
_VERHOEFF_P = ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
               (5, 8, 0, 3, 7, 9, 6, 1, 4, 2), (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
               (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
               (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8))


def is_concept_id(code: str) -> bool:
    """A well-formed SNOMED CT concept identifier (6 to 18 digits, partition 00, check digit)."""
    if not (code.isdigit() and 6 <= len(code) <= 18 and code[-3:-1] == "00"):
        return False
    check = 0
    for position, digit in enumerate(reversed(code)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[position % 8][int(digit)]]
    return check == 0


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str


@dataclass(frozen=True)
class Codes:
    source: Source
    findings: dict[str, Code]
    statuses: dict[str, Code]


def load_codes(path: Path = CODES_FILE) -> Codes:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    source = Source("snomed_ct", **data["source"])
    system = data["system"]
    known = knowledge().findings

    def codes(section: str, allowed) -> dict[str, Code]:
        found = {}
        for key, body in (data.get(section) or {}).items():
            if key not in allowed:
                raise KnowledgeError(f"{path.name}: {section}.{key} is not one of {sorted(allowed)[:5]}...")
            code = str(body["code"])
            if not is_concept_id(code) or not body.get("display"):
                raise KnowledgeError(f"{path.name}: {section}.{key} needs a SNOMED CT concept id "
                                     f"(check digit) and a display")
            found[key] = Code(system, code, str(body["display"]))
        return found

    return Codes(source, codes("findings", known), codes("statuses", ("present", "absent")))


@lru_cache(maxsize=1)
def codes() -> Codes:
    return load_codes()
