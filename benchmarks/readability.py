"""Reading level of every message the bot can say (testing/readability.py gathers them):
Flesch-Kincaid grade by textstat 0.7.8, median, p90 and the worst five, against the grade-7
target the advice issue sets (tests fail above grade 9). Also the longest messages, against the
600-character cap.

    .venv/bin/python benchmarks/readability.py
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from knowledge.messages import MAX_MESSAGE_CHARS as MAX_CHARS  # noqa: E402
from testing.readability import every_message  # noqa: E402

TARGET_GRADE = 7


def main() -> int:
    messages = every_message()
    graded = sorted(((message.grade, message) for message in messages), key=lambda pair: -pair[0])
    grades = [grade for grade, _ in graded]
    p90 = statistics.quantiles(grades, n=10)[-1]
    print(f"{len(messages)} messages: Flesch-Kincaid grade median {statistics.median(grades):.1f}, "
          f"p90 {p90:.1f}, max {grades[0]:.1f} (target <= {TARGET_GRADE}; tests fail above 9)")
    print(f"  above grade {TARGET_GRADE}: {sum(g > TARGET_GRADE for g in grades)}/{len(grades)}")
    print("  worst five:")
    for grade, message in graded[:5]:
        print(f"    {grade:4.1f}  {message.where}")
    lengths = sorted(messages, key=lambda message: -len(message.text))
    print(f"  over {MAX_CHARS} characters: {sum(len(m.text) > MAX_CHARS for m in messages)}/{len(messages)}; "
          f"longest {len(lengths[0].text)} ({lengths[0].where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
