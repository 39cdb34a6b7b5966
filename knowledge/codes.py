"""Standard codes for findings (knowledge/data/snomed.yaml): SNOMED CT where a code is well known,
nothing otherwise (the export then names the finding in words)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge.model import DATA_DIR, KnowledgeError, Source, knowledge

CODES_FILE = DATA_DIR / "snomed.yaml"


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
            if not code.isdigit() or not body.get("display"):
                raise KnowledgeError(f"{path.name}: {section}.{key} needs a numeric code and a display")
            found[key] = Code(system, code, str(body["display"]))
        return found

    return Codes(source, codes("findings", known), codes("statuses", ("present", "absent")))


@lru_cache(maxsize=1)
def codes() -> Codes:
    return load_codes()
