"""Imports run one way: knowledge/ has no Rasa and no bot/; actions/ reads knowledge/ and storage/, never bot/;
the product never imports testing/ or tests/, and benchmarks never import tests/."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {(str(path.relative_to(ROOT)), alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add((str(path.relative_to(ROOT)), node.module))
    return found


@pytest.mark.parametrize("package, forbidden", [
    ("actions", ("bot",)),
    ("knowledge", ("bot", "actions", "rasa", "rasa_sdk", "storage", "webapp", "testing", "tests")),
    ("bot", ("testing", "tests")),
    ("storage", ("testing", "tests")),
    ("webapp", ("testing", "tests")),
    ("clinic", ("testing", "tests")),
    ("actions", ("testing", "tests")),
    ("benchmarks", ("tests",)),
    ("testing", ("tests",)),
])
def test_imports_run_one_way(package, forbidden):
    offending = sorted((path, module) for path, module in imported_modules(package)
                       if module.split(".")[0] in forbidden)
    assert offending == []


def test_the_synthetic_conversations_use_findings_and_rules_that_exist():
    """Console and storage tests build conversations from testing/synthetic.py; ids the
    knowledge no longer has would test a console no patient can reach."""
    from knowledge.model import knowledge
    from testing import synthetic

    k = knowledge()
    events = synthetic.cauda_equina_conversation(0.0) + synthetic.calf_cramp_conversation(0.0)
    findings = {entity["value"] for event in events if event["event"] == "user"
                for entity in event["parse_data"]["entities"] if entity["entity"] == "finding"}
    outcomes = [event["data"]["custom"]["triage"] for event in events
                if event["event"] == "bot" and "triage" in ((event.get("data") or {}).get("custom") or {})]
    rules = {rule for outcome in outcomes for rule in outcome["rules"]}
    steps = {step for outcome in outcomes for step in outcome["plan"]}
    assert findings and findings <= set(k.findings)
    assert rules and rules <= {rule.id for rule in k.rules}
    assert steps and steps <= set(k.plan_steps)


def test_the_environment_is_read_in_one_place():
    """Settings have one home, clinic/settings.py (pydantic BaseSettings); neither the product nor
    its scripts, benchmarks and test helpers read an environment variable anywhere else."""
    import re

    home = ROOT / "clinic" / "settings.py"
    scanner = ROOT / "testing" / "deployment.py"  # reads none: finds reads in the source's syntax tree
    offending = [str(path.relative_to(ROOT))
                 for package in ("bot", "actions", "knowledge", "storage", "webapp", "clinic", "scripts",
                                 "benchmarks", "testing")
                 for path in (ROOT / package).rglob("*.py")
                 if path not in (home, scanner)
                 and re.search(r"\bos\.environ\b|\bgetenv\(", path.read_text(encoding="utf-8"))]
    assert offending == []
