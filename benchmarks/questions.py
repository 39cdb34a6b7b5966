"""How many screening questions it takes to reach a triage decision.

1. On the dialogue test stories (tests/stories): questions asked before each decision.
2. On simulated patients: every message of tests/knowledge/red_flag_cases.yaml, and typical
   non-urgent first messages, as the first message,
   then the screen as the bot runs it (knowledge.conversation, the same code the form uses), the
   patient answering "no" to each question. An emergency ends the screen at once.
Prints median, p90 and max, and where the questions go.
"""
from __future__ import annotations

import statistics
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.conversation import conversation_state  # noqa: E402
from knowledge.model import knowledge  # noqa: E402
from knowledge.nlp.pipeline import analyse  # noqa: E402
from knowledge.turns import Turn  # noqa: E402

DECISIONS = {"action_triage_outcome", "utter_escalation"}
# How ordinary, non-urgent consultations start (no red flag in the first message).
TYPICAL_OPENERS = [
    "my lower back aches", "my calves are really tight", "I get calf cramps at night",
    "my calves cramp at night and my lower back aches, no numbness", "sciatica down my left leg",
    "my back is stiff in the mornings", "tight calves and I can't squat with my heels flat",
    "pain in my calf when I walk", "my lower back has hurt for about 3 months", "I wear high heels and my calves ache",
    "my back hurts when I sit for long", "cramp in my right calf most nights", "my leg feels heavy and achy",
    "backache after gardening", "my calf muscles feel knotted",
]


def story_counts() -> list[tuple[str, int]]:
    questions = {q.id for q in knowledge().questions}
    counts = []
    for path in sorted((ROOT / "tests" / "stories").glob("*.yml")):
        for story in yaml.safe_load(path.read_text())["stories"]:
            asked = []
            for step in story["steps"]:
                for slot in step.get("slot_was_set") or []:
                    value = slot.get("requested_slot") if isinstance(slot, dict) else None
                    if value in questions and value not in asked:
                        asked.append(value)
                if step.get("action") in DECISIONS:
                    counts.append((story["story"], len(asked)))
                    break
    return counts


def turn(text: str, asked: str | None = None) -> Turn:
    analysis = analyse(text)
    return Turn(text, tuple((m.finding, m.status) for m in analysis.mentions), analysis.answer, asked=asked)


def simulate(first_message: str, limit: int = 30) -> tuple[int, str, list[str]]:
    turns = [turn(first_message)]
    asked: list[str] = []
    for _ in range(limit):
        outcome = conversation_state(turns).outcome()
        if outcome.level == "emergency" or not outcome.pending:
            return len(asked), outcome.level, asked
        question = outcome.pending[0].id
        asked.append(question)
        turns.append(turn("no", question))
    raise RuntimeError(f"no decision after {limit} questions for {first_message!r}")


def describe(name: str, counts: list[int]) -> str:
    counts = sorted(counts)
    p90 = counts[min(len(counts) - 1, int(round(0.9 * (len(counts) - 1))))]
    return (f"{name}: {len(counts)} conversations, questions to a decision: median {statistics.median(counts):g}, "
            f"p90 {p90}, max {max(counts)}, mean {statistics.mean(counts):.1f}")


def main() -> int:
    stories = story_counts()
    print(describe("test stories", [n for _, n in stories]))
    for name, n in stories:
        print(f"  {n:2d}  {name}")
    cases = yaml.safe_load((ROOT / "tests" / "knowledge" / "red_flag_cases.yaml").read_text())
    messages = [m for c in cases.values() for kind in ("fires", "silent") for m in c[kind]]
    print(f"simulating {len(messages)} patients ...", file=sys.stderr)
    results = [simulate(m) for m in messages]
    print(describe("simulated patients (red-flag cases, answering no)", [n for n, _, _ in results]))
    typical = [simulate(m) for m in TYPICAL_OPENERS]
    print(describe("typical non-urgent first messages, answering no", [n for n, _, _ in typical]))
    results += typical
    levels = Counter(level for _, level, _ in results)
    print("  decisions: " + ", ".join(f"{level} {levels[level]}" for level in ("emergency", "urgent", "routine",
                                                                                  "self_care")))
    asked = Counter(q for _, _, qs in results for q in qs)
    print("  most asked: " + ", ".join(f"{q} {n}" for q, n in asked.most_common(6)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
