"""Finding-extraction benchmark: knowledge.nlp.pipeline.analyse on hand-labelled patient messages.

Data: tests/nlu/findings_test.yml (labelling conventions in its header). Each message's predicted
findings are the analyse() mentions reduced to one status per finding: `present` if any mention is
present, else the first mention's status. What a finding implies (findings.yaml `implies`, e.g.
night_cramps -> calf_cramps) is added with the same status unless the finding is absent or the
implied finding was mentioned itself, as the gold labels write implied findings out.

A finding is correct when its id and status both match the gold label; the id-only figures ignore
the status. Status accuracy is over the gold findings whose id was found.

    .venv/bin/python benchmarks/findings.py [--data PATH] [--json OUT] [--worst N]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from knowledge.model import knowledge  # noqa: E402
from knowledge.nlp.pipeline import analyse  # noqa: E402

DEFAULT_DATA = REPO_ROOT / "tests" / "nlu" / "findings_test.yml"
STATUSES = ("present", "absent", "past", "hypothetical", "other")
PROGRESS_EVERY = 25


def load_cases(path: Path) -> list[dict]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    known = set(knowledge().findings)
    cases = []
    for number, case in enumerate(data["cases"], 1):
        findings = dict(case.get("findings") or {})
        unknown = [f for f in findings if f not in known]
        bad = [s for s in findings.values() if s not in STATUSES]
        if unknown or bad:
            raise SystemExit(f"{path}: case {number} has unknown findings {unknown} or statuses {bad}")
        cases.append({"text": str(case["text"]), "findings": findings})
    return cases


def with_implied(findings: dict[str, str]) -> dict[str, str]:
    """Add what each finding implies, with its status, unless absent or already stated."""
    k = knowledge()
    result = dict(findings)
    frontier = [f for f, s in result.items() if s != "absent"]
    while frontier:
        fid = frontier.pop()
        for implied in k.findings[fid].implies:
            if implied not in result:
                result[implied] = result[fid]
                frontier.append(implied)
    return result


def predict(text: str) -> dict[str, str]:
    """One status per finding: present if any mention is present, else the first mention's status."""
    mentions: dict[str, list[str]] = {}
    for mention in analyse(text).mentions:
        # a suggested or hedged sign was read, and the dialogue confirms it: count it as present here
        status = "present" if mention.status in ("suggested", "uncertain") else mention.status
        mentions.setdefault(mention.finding, []).append(status)
    statuses = {f: ("present" if "present" in s else s[0]) for f, s in mentions.items()}
    return with_implied(statuses)


def prf(tp: int, n_pred: int, n_gold: int) -> dict:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "predicted": n_pred, "gold": n_gold}


def evaluate(cases: list[dict], progress=None) -> tuple[dict, list[dict]]:
    results, seconds = [], 0.0
    for done, case in enumerate(cases, 1):
        started = time.perf_counter()
        got = predict(case["text"])
        seconds += time.perf_counter() - started
        results.append({"text": case["text"], "expected": case["findings"], "got": got})
        if progress and (done % PROGRESS_EVERY == 0 or done == len(cases)):
            progress(f"{done}/{len(cases)} messages")

    tp = n_pred = n_gold = id_tp = status_ok = 0
    per_status = {s: Counter() for s in STATUSES}
    confusion = {s: Counter() for s in STATUSES}  # gold status -> predicted status (or "missed")
    per_finding: dict[str, Counter] = {}
    empty_total = empty_clean = 0
    for r in results:
        gold, got = r["expected"], r["got"]
        n_gold += len(gold)
        n_pred += len(got)
        if not gold:
            empty_total += 1
            empty_clean += not got
        for fid, status in gold.items():
            per_status[status]["gold"] += 1
            confusion[status][got.get(fid, "missed")] += 1
            counts = per_finding.setdefault(fid, Counter())
            if fid in got:
                id_tp += 1
                if got[fid] == status:
                    tp += 1
                    status_ok += 1
                    per_status[status]["tp"] += 1
                    counts["tp"] += 1
                else:
                    counts["wrong_status"] += 1
            else:
                counts["fn"] += 1
        for fid, status in got.items():
            per_status[status]["predicted"] += 1
            if fid not in gold:
                per_finding.setdefault(fid, Counter())["fp"] += 1
        r["errors"] = (sum(got.get(f) != s for f, s in gold.items())
                       + sum(f not in gold or gold[f] != s for f, s in got.items()))

    figures = {
        "messages": len(cases),
        **prf(tp, n_pred, n_gold),
        "id_only": prf(id_tp, n_pred, n_gold),
        "id_f1": prf(id_tp, n_pred, n_gold)["f1"],
        "status_accuracy": status_ok / id_tp if id_tp else 0.0,
        "status_found": id_tp,
        "per_status": {s: prf(c["tp"], c["predicted"], c["gold"]) for s, c in per_status.items()},
        "status_confusion": {s: dict(c) for s, c in confusion.items()},
        "per_finding": {f: dict(c) for f, c in sorted(per_finding.items())},
        "no_finding_messages": {"total": empty_total, "nothing_extracted": empty_clean},
        "messages_exact": sum(r["errors"] == 0 for r in results),
        "ms_per_message": 1000 * seconds / len(cases) if cases else 0.0,
    }
    return figures, results


def fmt(findings: dict[str, str]) -> str:
    return "{" + ", ".join(f"{f}: {s}" for f, s in sorted(findings.items())) + "}"


def report(figures: dict, results: list[dict], worst: int) -> list[str]:
    i = figures["id_only"]
    lines = [
        f"{figures['messages']} messages, {figures['gold']} gold findings, {figures['predicted']} predicted; "
        f"{figures['messages_exact']} messages exactly right; {figures['ms_per_message']:.1f} ms per message",
        f"findings (id and status): P={figures['precision']:.3f} R={figures['recall']:.3f} F1={figures['f1']:.3f} "
        f"(TP={figures['tp']})",
        f"findings (id only):       P={i['precision']:.3f} R={i['recall']:.3f} F1={i['f1']:.3f} (TP={i['tp']})",
        f"status accuracy over the {figures['status_found']} gold findings whose id was found: "
        f"{figures['status_accuracy']:.3f}",
        "per status (gold / predicted / correct, P R F1):",
    ]
    for status, s in figures["per_status"].items():
        lines.append(f"  {status:<12} {s['gold']:>4} / {s['predicted']:>4} / {s['tp']:>4}   "
                     f"P={s['precision']:.3f} R={s['recall']:.3f} F1={s['f1']:.3f}")
    lines.append("status confusion (gold -> predicted):")
    for status, row in figures["status_confusion"].items():
        cells = ", ".join(f"{k}={v}" for k, v in sorted(row.items(), key=lambda kv: -kv[1]))
        lines.append(f"  {status:<12} {cells}")
    e = figures["no_finding_messages"]
    lines.append(f"messages with no finding: {e['nothing_extracted']}/{e['total']} with nothing extracted")
    ranked = sorted((r for r in results if r["errors"]), key=lambda r: -r["errors"])[:worst]
    lines.append(f"{len(ranked)} worst messages (most wrong or missing findings):")
    for r in ranked:
        lines.append(f"  [{r['errors']}] {r['text']}")
        lines.append(f"      expected {fmt(r['expected'])}")
        lines.append(f"      got      {fmt(r['got'])}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled messages (YAML)")
    parser.add_argument("--json", type=Path, help="also write the figures (and each message's result) here")
    parser.add_argument("--worst", type=int, default=15, help="how many of the worst messages to list")
    args = parser.parse_args()

    cases = load_cases(args.data)
    figures, results = evaluate(cases, progress=lambda m: print(m, file=sys.stderr, flush=True))
    print("\n".join(report(figures, results, args.worst)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**figures, "results": results}, indent=2) + "\n", encoding="utf-8")
    print(f"findings F1={figures['f1']:.3f} P={figures['precision']:.3f} R={figures['recall']:.3f} "
          f"id-only F1={figures['id_f1']:.3f} over {figures['messages']} messages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
