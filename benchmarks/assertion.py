"""Assertion benchmark: knowledge.nlp.context on the public NegEx/ConText test set.

Data and scoring: ../shared/benchmarks/context/README.md (negation scored as in the set's
TestSet.md, Negated being the positive class).

    .venv/bin/python benchmarks/assertion.py [--data PATH] [--rules PATH] [--json OUT] [--errors]
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from knowledge.nlp.context import Assertion, ContextEngine  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "benchmarks" / "context" / "rsAnnotations-1-120-random.txt"
GENNEGEX = {"f1": 0.946, "precision": 0.933, "recall": 0.959, "accuracy": 0.977}  # TestSet.md
PROGRESS_EVERY = 500


@dataclass(frozen=True)
class Row:
    row_id: str
    condition: str
    sentence: str
    negation: str  # Affirmed | Negated
    temporality: str  # Recent | Historical | Not particular
    experiencer: str  # Patient | Family member | Other


def read_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)  # header
        return [Row(*(field.strip() for field in fields[:6])) for fields in reader if fields]


def locate(condition: str, sentence: str) -> tuple[int, int] | None:
    """Character span of the condition in the sentence: case-insensitive, any spacing.

    The set writes the annotated mention in capitals, so where the words occur more than
    once the all-capitals occurrence is taken.
    """
    words = r"\s+".join(map(re.escape, condition.split()))
    matches = list(re.finditer(rf"(?<!\w){words}(?!\w)", sentence, re.IGNORECASE))
    matches = matches or list(re.finditer(words, sentence, re.IGNORECASE))  # words glued to the next
    if not matches:
        return None
    marked = [m for m in matches if m.group() == m.group().upper()]
    return (marked or matches)[0].span()


def temporality_label(assertion: Assertion) -> str:
    if assertion.hypothetical:
        return "Not particular"
    return "Historical" if assertion.historical else "Recent"


def experiencer_label(assertion: Assertion) -> str:
    return "Other" if assertion.experiencer == "other" else "Patient"


def gold_experiencer(row: Row) -> str:
    return "Patient" if row.experiencer == "Patient" else "Other"


def precision_recall(gold: list[bool], predicted: list[bool]) -> dict:
    tp = sum(g and p for g, p in zip(gold, predicted, strict=True))
    fp = sum(p and not g for g, p in zip(gold, predicted, strict=True))
    fn = sum(g and not p for g, p in zip(gold, predicted, strict=True))
    tn = len(gold) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall, "accuracy": (tp + tn) / len(gold),
            "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def accuracy(gold: list[str], predicted: list[str]) -> float:
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)


def assess_rows(engine: ContextEngine, rows: list[Row], progress=None) -> tuple[list[Assertion], int, float]:
    """Assertions for every row, how many conditions were not located, and seconds spent."""
    assertions, unlocated, seconds = [], 0, 0.0
    for done, row in enumerate(rows, 1):
        span = locate(row.condition, row.sentence)
        if span is None:  # assess the whole sentence: no trigger outside it, so affirmed/recent/patient
            unlocated += 1
            span = (0, len(row.sentence))
        started = time.perf_counter()
        assertions.append(engine.assess(row.sentence, *span))
        seconds += time.perf_counter() - started
        if progress and done % PROGRESS_EVERY == 0:
            progress(f"{done}/{len(rows)} rows")
    return assertions, unlocated, seconds


def evaluate(rows: list[Row], engine: ContextEngine, progress=None) -> tuple[dict, list[Assertion]]:
    """The benchmark's figures, and the assertion made for each row."""
    assertions, unlocated, seconds = assess_rows(engine, rows, progress)
    negation = precision_recall([r.negation == "Negated" for r in rows], [a.negated for a in assertions])
    temporality_gold = [r.temporality for r in rows]
    temporality_pred = [temporality_label(a) for a in assertions]
    experiencer_gold = [gold_experiencer(r) for r in rows]
    experiencer_pred = [experiencer_label(a) for a in assertions]
    figures = {
        "rows": len(rows),
        "unlocated": unlocated,
        "negation": negation,
        "temporality": {
            "accuracy": accuracy(temporality_gold, temporality_pred),
            "historical": precision_recall([g == "Historical" for g in temporality_gold],
                                           [p == "Historical" for p in temporality_pred]),
            "not_particular": precision_recall([g == "Not particular" for g in temporality_gold],
                                               [p == "Not particular" for p in temporality_pred]),
        },
        "experiencer": {
            "accuracy": accuracy(experiencer_gold, experiencer_pred),
            "other": precision_recall([g == "Other" for g in experiencer_gold],
                                      [p == "Other" for p in experiencer_pred]),
        },
        "ms_per_sentence": 1000 * seconds / len(rows),
    }
    return figures, assertions


def report(figures: dict) -> list[str]:
    n, t, e = figures["negation"], figures["temporality"], figures["experiencer"]
    h, hyp, other = t["historical"], t["not_particular"], e["other"]
    negation = (f"negation F1={n['f1']:.3f} P={n['precision']:.3f} R={n['recall']:.3f} acc={n['accuracy']:.3f} "
                f"(TP={n['tp']} FP={n['fp']} FN={n['fn']} TN={n['tn']})")
    reference = (f"GenNegEx v1.2 published: F1={GENNEGEX['f1']:.3f} P={GENNEGEX['precision']:.3f} "
                 f"R={GENNEGEX['recall']:.3f} acc={GENNEGEX['accuracy']:.3f}; "
                 f"ours F1 {n['f1'] - GENNEGEX['f1']:+.3f} P {n['precision'] - GENNEGEX['precision']:+.3f} "
                 f"R {n['recall'] - GENNEGEX['recall']:+.3f} acc {n['accuracy'] - GENNEGEX['accuracy']:+.3f}")
    temporality = (f"temporality acc={t['accuracy']:.3f} over Recent/Historical/Not particular "
                   f"(hypothetical -> Not particular, else historical -> Historical, else Recent); "
                   f"Historical P={h['precision']:.3f} R={h['recall']:.3f}; "
                   f"Not particular P={hyp['precision']:.3f} R={hyp['recall']:.3f}")
    experiencer = (f"experiencer acc={e['accuracy']:.3f} over Patient/Other (Family member and Other -> other); "
                   f"other P={other['precision']:.3f} R={other['recall']:.3f} (TP={other['tp']} FP={other['fp']})")
    data = (f"{figures['rows']} rows, {figures['unlocated']} conditions not located in their sentence "
            f"(assessed as the whole sentence); {figures['ms_per_sentence']:.2f} ms per sentence")
    return [negation, reference, temporality, experiencer, data]


def negation_errors(rows: list[Row], assertions: list[Assertion]) -> list[str]:
    return [
        f"{row.row_id}\tgold={row.negation}\ttriggers={'|'.join(a.triggers)}\t{row.condition}\t{row.sentence}"
        for row, a in zip(rows, assertions, strict=True) if (row.negation == "Negated") != a.negated
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="annotation file (TSV)")
    parser.add_argument("--rules", type=Path, help="rules file to try instead of knowledge/data/context_rules.yaml")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--errors", action="store_true", help="list the rows whose negation is wrong")
    args = parser.parse_args()

    rows = read_rows(args.data)
    engine = ContextEngine(rules_path=args.rules)
    figures, assertions = evaluate(rows, engine, progress=lambda message: print(message, file=sys.stderr, flush=True))
    print("\n".join(report(figures)))
    if args.errors:
        print("\n".join(negation_errors(rows, assertions)))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
