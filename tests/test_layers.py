"""Imports run one way: knowledge/ has no Rasa and no bot/; actions/ reads knowledge/ and storage/, never bot/."""
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
    ("knowledge", ("bot", "actions", "rasa", "rasa_sdk", "storage", "webapp")),
])
def test_imports_run_one_way(package, forbidden):
    offending = sorted((path, module) for path, module in imported_modules(package)
                       if module.split(".")[0] in forbidden)
    assert offending == []
