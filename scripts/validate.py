"""`rasa data validate`, failing on every warning except one it cannot judge.

Rasa's validator counts a response as used only if a story or rule names it. Ours are also used
by forms (utter_ask_<slot>), by TriagePolicy (bot/flow.py), by the NLG (bot/nlg.py) and by actions
(actions/*.py). Those warnings are accepted only after checking that the response really is
referenced by one of them; any other warning, or an unreferenced response, fails.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
UNUSED = re.compile(r"The utterance '(utter_\w+)' is not used in any story or rule\.")
WARNING = re.compile(r"UserWarning: (.*)")
CODE = [*sorted((ROOT / "actions").glob("*.py")), ROOT / "bot" / "flow.py", ROOT / "bot" / "nlg.py"]
# Responses Rasa's own default actions utter: action_default_fallback and action_restart.
RASA_DEFAULT_RESPONSES = {"utter_default", "utter_restart"}


def form_asks() -> set[str]:
    asks = set()
    for path in (ROOT / "bot" / "domain").glob("*.yml"):
        forms = (yaml.safe_load(path.read_text()) or {}).get("forms") or {}
        asks |= {f"utter_ask_{slot}" for form in forms.values() for slot in form.get("required_slots", [])}
    return asks


def used_by_code(utterance: str, code: str) -> bool:
    return f'"{utterance}"' in code or f"'{utterance}'" in code


def main() -> int:
    command = [str(Path(sys.executable).parent / "rasa"), "data", "validate", "--config", "bot/config.yml",
               "--domain", "bot/domain", "--data", "nlu_data"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    output = result.stdout + result.stderr
    code = "\n".join(path.read_text() for path in CODE)
    asks = form_asks()
    accepted, problems = [], []
    for message in WARNING.findall(output):
        unused = UNUSED.search(message)
        if unused and (unused.group(1) in asks | RASA_DEFAULT_RESPONSES or used_by_code(unused.group(1), code)):
            accepted.append(unused.group(1))
        else:
            problems.append(message)
    print(f"rasa data validate: exit {result.returncode}; {len(accepted)} responses used by forms, the policy, "
          f"the NLG or actions rather than by stories")
    for problem in problems:
        print(f"  problem: {problem}")
    if result.returncode != 0 and not problems:
        print(output[-3000:])
    return 1 if problems or result.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
