"""NLU figures: intent classification (held-out test set and k-fold cross-validation) and the
finding extractor (entity-level F1 against hand-labelled messages, benchmarks/findings.py).

Run by `make bench-nlu` (needs the trained model). Cross-validation retrains DIET once per fold,
so it takes a few minutes; Rasa shows its own progress bars.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RASA = str(Path(sys.executable).parent / "rasa")
OUT = ROOT / "results" / "nlu"
sys.path.insert(0, str(ROOT))

from clinic.settings import child_environment  # noqa: E402


def run(command: list[str]) -> str:
    env = child_environment(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", RASA_TELEMETRY_ENABLED="false")
    print("$", " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"failed: {' '.join(command)}")
    return result.stdout + result.stderr


def held_out() -> dict:
    out = OUT / "heldout"
    run([RASA, "test", "nlu", "--model", "models/triage.tar.gz", "--nlu", "tests/nlu/test_nlu.yml", "--out", str(out),
         "--no-plot"])
    report = json.loads((out / "intent_report.json").read_text())
    return {"accuracy": report["accuracy"], "macro_f1": report["macro avg"]["f1-score"],
            "weighted_f1": report["weighted avg"]["f1-score"], "examples": report["macro avg"]["support"]}


def cross_validation(folds: int) -> dict:
    output = run([RASA, "test", "nlu", "--nlu", "nlu_data/nlu", "--config", "bot/config.yml", "--cross-validation",
                  "--folds", str(folds), "--out", str(OUT / "cv")])
    figures = {}
    section = output.split("Intent evaluation results", 1)[-1]
    for split in ("train", "test"):
        for metric in ("Accuracy", "F1-score", "Precision"):
            match = re.search(rf"{split} {metric}: ([\d.]+) \(([\d.]+)\)", section)
            if match:
                figures[f"{split}_{metric.lower()}"] = float(match.group(1))
                figures[f"{split}_{metric.lower()}_sd"] = float(match.group(2))
    return figures


def findings() -> dict | None:
    script = ROOT / "benchmarks" / "findings.py"
    if not (ROOT / "tests" / "nlu" / "findings_test.yml").exists() or not script.exists():
        return None
    out = OUT / "findings.json"
    print(run([sys.executable, str(script), "--json", str(out)]).strip().splitlines()[-1], file=sys.stderr)
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = {"held_out": held_out(), "cross_validation": cross_validation(args.folds), "findings": findings()}
    (OUT / "nlu.json").write_text(json.dumps(results, indent=2))
    h, cv = results["held_out"], results["cross_validation"]
    print(f"intents, held-out test set ({h['examples']} messages): accuracy={h['accuracy']:.3f} "
          f"macro F1={h['macro_f1']:.3f} weighted F1={h['weighted_f1']:.3f}")
    print(f"intents, {args.folds}-fold cross-validation on the training data: test F1={cv.get('test_f1-score', 0):.3f} "
          f"(sd {cv.get('test_f1-score_sd', 0):.3f}) accuracy={cv.get('test_accuracy', 0):.3f}")
    f = results["findings"]
    if f:
        print(f"findings (entities with assertion status), hand-labelled messages: F1={f['f1']:.3f} "
              f"P={f['precision']:.3f} R={f['recall']:.3f}; ignoring status F1={f['id_f1']:.3f}")
    print(f"results: {OUT / 'nlu.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
