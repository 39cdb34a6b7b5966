"""Redaction benchmark: storage.redaction.redact against the old regex-only redactor (the baseline).

Data: benchmarks/data/redaction/<split>.yml (dev: tune on it; test: held out). Each message lists
its personal details (`pii`: text + category) and the clinical phrases that must survive
(`clinical`). The redacted text is aligned back onto the message (the text between placeholders is
kept verbatim), which gives the replaced regions. For the current redactor the regions are the spans it
reports (storage.redaction.find_personal_details): two placeholders with only a space between them
("[name] [phone]") cannot be aligned back unambiguously.

- recall: a PII item is caught when every character of it lies in a replaced region (partial = miss);
- precision: replaced regions that overlap a labelled PII item / all replaced regions;
- over-redaction: clinical phrases no longer found verbatim in the redacted text / all clinical phrases.

    .venv/bin/python benchmarks/redaction.py [--split dev|test ...] [--show]
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import redaction_baseline  # noqa: E402

from storage import redaction  # noqa: E402

DATA = REPO_ROOT / "benchmarks" / "data" / "redaction"
CATEGORIES = ("PERSON", "PHONE", "EMAIL", "DATE", "ADDRESS", "ID_NUMBER", "FINANCIAL")
PLACEHOLDER = re.compile(r"\[(?:name|phone|email|date|address|postcode|id|card|bank)\]")


def load(split: str) -> list[dict]:
    path = DATA / f"{split}.yml"
    messages = yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]
    for message in messages:
        for item in message.get("pii") or []:
            if item["category"] not in CATEGORIES or item["text"] not in message["text"]:
                raise SystemExit(f"{path}: {message['id']}: bad PII item {item}")
        for phrase in message.get("clinical") or []:
            if phrase not in message["text"]:
                raise SystemExit(f"{path}: {message['id']}: clinical phrase {phrase!r} not in the text")
    return messages


def replaced_regions(original: str, redacted: str) -> list[tuple[int, int]] | None:
    """Where the placeholders of `redacted` stand in `original`, or None if they don't line up."""
    parts = PLACEHOLDER.split(redacted)
    pattern = "(.+?)".join(re.escape(part) for part in parts)
    match = re.fullmatch(pattern, original, re.DOTALL)
    if match is None:
        return None
    return [match.span(group) for group in range(1, len(parts))]


def spans_of(text: str, needle: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(re.escape(needle), text)]


def score(messages: list[dict], redact: Callable[[str], str],
          regions_of: Callable[[str], list[tuple[int, int]]] | None = None) -> dict:
    found, total, misses = Counter(), Counter(), []
    regions_all = regions_hit = clinical_total = 0
    damaged, false_hits, unaligned = [], [], []
    started = time.perf_counter()
    outputs = [redact(m["text"]) for m in messages]
    elapsed = time.perf_counter() - started
    for message, output in zip(messages, outputs, strict=True):
        text = message["text"]
        regions = regions_of(text) if regions_of else replaced_regions(text, output)
        if regions is None:
            unaligned.append((message["id"], output))
            regions = []
        covered = set()
        for start, end in regions:
            covered.update(range(start, end))
        pii_chars = set()
        for item in message.get("pii") or []:
            total[item["category"]] += 1
            item_spans = spans_of(text, item["text"])
            pii_chars.update(i for start, end in item_spans for i in range(start, end))
            if any(set(range(start, end)) <= covered for start, end in item_spans):
                found[item["category"]] += 1
            else:
                misses.append((message["id"], item["category"], item["text"], output))
        for start, end in regions:
            regions_all += 1
            if pii_chars & set(range(start, end)):
                regions_hit += 1
            else:
                false_hits.append((message["id"], text[start:end], output))
        for phrase in message.get("clinical") or []:
            clinical_total += 1
            if phrase not in output:
                damaged.append((message["id"], phrase, output))
    return {"found": found, "total": total, "misses": misses, "regions": regions_all,
            "regions_hit": regions_hit, "false_hits": false_hits, "clinical_total": clinical_total,
            "damaged": damaged, "unaligned": unaligned, "ms_per_message": 1000 * elapsed / len(messages)}


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f} %" if whole else "    -  "


def report(split: str, messages: list[dict], results: dict[str, dict], show: bool) -> None:
    first = next(iter(results.values()))
    print(f"\nsplit {split}: {len(messages)} messages, {sum(first['total'].values())} PII items, "
          f"{first['clinical_total']} clinical phrases")
    rows: list[tuple[str, list[str]]] = []
    for category in CATEGORIES:
        total = first["total"][category]
        rows.append((f"recall {category}", [f"{percent(r['found'][category], total)} ({r['found'][category]}/{total})"
                                            for r in results.values()]))
    rows.append(("recall overall", [
        f"{percent(sum(r['found'].values()), sum(r['total'].values()))} "
        f"({sum(r['found'].values())}/{sum(r['total'].values())})" for r in results.values()]))
    rows.append(("precision", [f"{percent(r['regions_hit'], r['regions'])} ({r['regions_hit']}/{r['regions']})"
                               for r in results.values()]))
    rows.append(("clinical removed", [f"{percent(len(r['damaged']), r['clinical_total'])} ({len(r['damaged'])})"
                                      for r in results.values()]))
    rows.append(("ms per message", [f"{r['ms_per_message']:.2f}" for r in results.values()]))
    print(f"{'':20}" + "".join(f"{name:>24}" for name in results))
    for label, cells in rows:
        print(f"{label:20}" + "".join(f"{cell:>24}" for cell in cells))
    if show:
        current = list(results.values())[-1]
        for kind in ("misses", "damaged", "false_hits", "unaligned"):
            for row in current[kind]:
                print(f"  {kind:10} " + " | ".join(map(str, row)))


def current_regions(text: str) -> list[tuple[int, int]]:
    return [(found.start, found.end) for found in redaction.find_personal_details(text)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", action="append", choices=("dev", "dev_blind1", "dev_blind2", "test"),
                        help="data split(s) to score (default: dev)")
    parser.add_argument("--show", action="store_true", help="list the current redactor's misses and damage")
    args = parser.parse_args(argv)
    redaction.redact("warm up: load the analyser once")
    print(f"redactor: {redaction.engine_name()}")
    for split in args.split or ["dev"]:
        messages = load(split)
        results = {"baseline (regex only)": score(messages, redaction_baseline.redact),
                   "current": score(messages, redaction.redact, current_regions)}
        report(split, messages, results, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
