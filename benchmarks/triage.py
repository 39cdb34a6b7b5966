"""End-to-end triage benchmark: blind patient scripts played over REST, and findings on single messages.

Data (benchmarks/data/triage/, written from shared/sources by writers who never saw the lexicon or
the rules, split into dev and test before any tuning; see its README):
  <split>_messages.yml  single messages with gold findings (id -> status) and benign look-alikes
  <split>_scripts.yml   multi-turn patient scripts with a gold level

Scripts are played against a running bot (started here unless --url is given): the patient says
hello, answers the consent question with `consent_reply`, sends the `opening` messages, answers
each screening question from `answers` (keyed by finding id; "which of these?" follow-ups too) or
with one of its `deny` phrasings (a hedge when `unsure_default`), declines a callback, and after the
outcome sends `after_outcome` if the script has one. The conversation's level is the most urgent
level the bot gave (escalation or outcome).

Printed per gold level: exact / under-triage / over-triage / no decision; emergency recall; median
screening questions; questions about something already said (the same question twice, or "tell me
in your own words" after the patient described the problem); look-alike scripts escalated without a
confirming question; findings P/R/F1 (id and status) on the single messages, and look-alike
messages whose findings alone would escalate.

    .venv/bin/python benchmarks/triage.py --split dev [--url http://127.0.0.1:5005] [--only ID] [--verbose]
    make bench-triage                    # dev and test
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.findings import with_implied  # noqa: E402  (one implication walk for both benchmarks)
from knowledge.model import knowledge  # noqa: E402
from knowledge.nlp.pipeline import analyse  # noqa: E402
from knowledge.triage import evaluate  # noqa: E402

DATA_DIR = REPO_ROOT / "benchmarks" / "data" / "triage"
LEVELS = ("emergency", "urgent", "routine", "self_care")
STATUSES = ("present", "absent", "past", "hypothetical", "other")
ESCALATING = ("emergency", "urgent")
MAX_TURNS = 40
HEDGES = ("not sure", "maybe? hard to say", "kind of, i dont know")
# The benchmark sends many messages from one address.
BENCH_ENV = {"CLINIC_RATE_LIMIT_PER_MINUTE": "100000", "CLINIC_RATE_LIMIT_BURST": "100000",
             "CLINIC_RATE_LIMIT_IP_PER_MINUTE": "100000", "CLINIC_RATE_LIMIT_IP_BURST": "100000"}


# ---- single messages -------------------------------------------------------------------------
def predicted_findings(text: str, learned: bool = True) -> tuple[dict[str, str], set[str]]:
    """One status per finding (present wins, else the first), what it implies, and which were only
    suggested; learned=False leaves out the learned reader's proposals (the rules-only baseline)."""
    k = knowledge()
    mentions = analyse(text, learned=learned).mentions
    found: dict[str, str] = {}
    for mention in mentions:
        # proposed (to be confirmed) or hedged: the gold labels both as present
        status = "present" if mention.status in ("suggested", "uncertain") else mention.status
        if mention.finding not in found or status == "present":
            found[mention.finding] = status
    suggested = {m.finding for m in mentions if m.status == "suggested"}
    if re.search(k.patterns["proxy"], text, re.IGNORECASE):   # "asking for my mum": hers are the patient's
        found = {f: "present" if s == "other" and not k.findings[f].history_ok else s for f, s in found.items()}
    return with_implied(found), suggested


def level_of(findings: dict[str, str]) -> str:
    return evaluate({f: s for f, s in findings.items() if s in ("present", "absent")}).level


def run_messages(path: Path, verbose: bool) -> dict:
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]
    known = set(knowledge().findings)
    tp = fp = fn = id_tp = id_fp = id_fn = 0
    rules_tp = rules_fp = rules_fn = 0
    lookalikes = escalated_lookalikes = 0
    misses: list[str] = []
    for number, case in enumerate(cases, 1):
        gold = with_implied({f: s for f, s in (case.get("findings") or {}).items() if f in known})
        predicted, suggested = predicted_findings(str(case["text"]))
        gold_pairs, predicted_pairs = set(gold.items()), set(predicted.items())
        rules_pairs = set(predicted_findings(str(case["text"]), learned=False)[0].items())
        rules_tp += len(gold_pairs & rules_pairs)
        rules_fp += len(rules_pairs - gold_pairs)
        rules_fn += len(gold_pairs - rules_pairs)
        tp += len(gold_pairs & predicted_pairs)
        fp += len(predicted_pairs - gold_pairs)
        fn += len(gold_pairs - predicted_pairs)
        id_tp += len(set(gold) & set(predicted))
        id_fp += len(set(predicted) - set(gold))
        id_fn += len(set(gold) - set(predicted))
        if case.get("lookalike"):
            lookalikes += 1
            decisive = {f: s for f, s in predicted.items() if f not in suggested}
            if level_of(decisive) in ESCALATING and level_of(gold) not in ESCALATING:
                escalated_lookalikes += 1
                misses.append(f"  look-alike escalated {case['id']}: {case['text']!r} -> {predicted}")
        if verbose and gold_pairs != predicted_pairs:
            misses.append(f"  {case['id']}: {case['text']!r}\n     missed {sorted(gold_pairs - predicted_pairs)}"
                          f"\n     extra  {sorted(predicted_pairs - gold_pairs)}")
        if number % 50 == 0:
            print(f"  ... {number}/{len(cases)} messages", file=sys.stderr)

    def prf(t: int, p: int, n: int) -> tuple[float, float, float]:
        precision = t / (t + p) if t + p else 1.0
        recall = t / (t + n) if t + n else 1.0
        return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)

    return {"messages": len(cases), "findings": prf(tp, fp, fn), "ids": prf(id_tp, id_fp, id_fn),
            "rules_only": prf(rules_tp, rules_fp, rules_fn),
            "lookalikes": lookalikes, "lookalikes_escalated": escalated_lookalikes, "misses": misses}


# ---- scripts over REST -----------------------------------------------------------------------
def rest_say(url: str, sender: str, text: str) -> list[dict]:
    import urllib.request

    from testing.servers import REST_HEADERS  # noqa: PLC0415  (benchmarks name their conversations)

    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", body,
                                     {"Content-Type": "application/json", **REST_HEADERS})
    with urllib.request.urlopen(request, timeout=90) as response:
        return json.loads(response.read())


def question_items(question_id: str) -> list[str]:
    k = knowledge()
    base = question_id.removeprefix("which_")
    try:
        return list(k.question(base).items)
    except KeyError:
        return []


def answer_for(script: dict, asked: str, rng: random.Random) -> str:
    answers = script.get("answers") or {}
    if asked in answers:
        return str(answers[asked])
    given = [str(answers[item]) for item in question_items(asked) if item in answers]
    if given:
        return " and ".join(given)
    if script.get("unsure_default"):
        return rng.choice(HEDGES)
    return str(rng.choice(script.get("deny") or ["no"]))


def play(url: str, script: dict, rng: random.Random, verbose: bool) -> dict:
    sender = f"bench{uuid.uuid4().hex[:16]}"
    queue = [str(m) for m in (script.get("opening") or [])]
    after = script.get("after_outcome")
    levels: list[str] = []
    asked: list[str] = []
    transcript: list[str] = []
    described = False
    consent_answered = False
    outcome_given = False
    fallbacks = 0
    escalated_unasked = False      # an escalation before any screening question was answered
    message = "hi"
    for _ in range(MAX_TURNS):
        transcript.append(f"P: {message}")
        replies = rest_say(url, sender, message)
        if not replies and message == "hi":
            raise SystemExit(f"the bot at {url} did not answer 'hi': is its model loaded?")
        ask = None
        for reply in replies:
            custom = reply.get("custom") or {}
            transcript.append(f"B: {(reply.get('text') or '')[:160]!r} {json.dumps(custom)[:120] if custom else ''}")
            if "triage" in custom:
                levels.append(custom["triage"]["level"])
                outcome_given = True
                if custom["triage"]["level"] in ESCALATING and not any(a not in ("complaint", "proxy") for a in asked):
                    escalated_unasked = True
            if custom.get("ask"):
                ask = custom["ask"]
            if "rephrase" in (reply.get("text") or "") or "not sure what to do" in (reply.get("text") or ""):
                fallbacks += 1
        if len(message.split()) > 2 and message != "hi":
            described = True
        if ask == "consent" and not consent_answered:
            consent_answered = True
            message = str(script.get("consent_reply") or "yes")
            continue
        if queue:
            message = queue.pop(0)
            continue
        if ask and ask != "consent":
            asked.append(ask)
            if ask == "complaint":
                message = str(script.get("answers", {}).get("complaint") or (script.get("opening") or ["my back hurts"])[-1])
            elif ask == "proxy":   # the persona's truth: a relative or parent is chatting for the patient
                tags = set(script.get("tags") or [])
                message = "yes" if tags & {"relative", "child"} else "no, it's me"
            elif ask in ("contact_method", "contact_value", "contact_consent"):
                message = str((script.get("answers") or {}).get("callback") or "no thanks")
            else:
                message = answer_for(script, ask, rng)
            continue
        if ask == "consent":  # asked again after the outcome
            message = "yes"
            continue
        if outcome_given and after:
            message, after = str(after["text"]), None
            outcome_given = False
            continue
        break
    gold = script["level"]
    if script.get("after_outcome"):
        gold = min(gold, script["after_outcome"]["level"], key=LEVELS.index)
    got = min(levels, key=LEVELS.index) if levels else None
    repeated = sum(count - 1 for count in Counter(a for a in asked if a != "complaint").values())
    repeated += sum(1 for a in asked if a == "complaint") if described else 0
    result = {"id": script["id"], "gold": gold, "got": got, "questions": len([a for a in asked if a != "complaint"]),
              "repeated": repeated, "asked": asked, "fallbacks": fallbacks,
              "lookalike": "lookalike" in (script.get("tags") or []), "transcript": transcript,
              "escalated_unasked": escalated_unasked}
    return result


def verdict(result: dict) -> str:
    if result["got"] is None:
        return "no decision"
    gold, got = LEVELS.index(result["gold"]), LEVELS.index(result["got"])
    return "exact" if gold == got else ("under" if got > gold else "over")


def run_scripts(url: str, path: Path, only: str | None, verbose: bool) -> dict:
    scripts = yaml.safe_load(path.read_text(encoding="utf-8"))["scripts"]
    if only:
        scripts = [s for s in scripts if s["id"] in only.split(",")]
    rng = random.Random(7)
    results = []
    started = time.monotonic()
    for number, script in enumerate(scripts, 1):
        results.append(play(url, script, rng, verbose))
        if number % 10 == 0:
            print(f"  ... {number}/{len(scripts)} scripts ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return {"results": results}


def report_scripts(name: str, results: list[dict], verbose: bool) -> dict:
    table = defaultdict(Counter)
    for result in results:
        table[result["gold"]][verdict(result)] += 1
    print(f"\n{name}: {len(results)} scripts")
    print(f"  {'gold level':<11} {'n':>3} {'exact':>6} {'under':>6} {'over':>6} {'no dec.':>8}")
    for level in LEVELS:
        row = table[level]
        print(f"  {level:<11} {sum(row.values()):>3} {row['exact']:>6} {row['under']:>6} {row['over']:>6} "
              f"{row['no decision']:>8}")
    total = Counter(verdict(r) for r in results)
    emergencies = [r for r in results if r["gold"] == "emergency"]
    escalated = [r for r in emergencies if r["got"] == "emergency"]
    asked = sum(r["questions"] + r["asked"].count("complaint") for r in results)
    repeated = sum(r["repeated"] for r in results)
    lookalikes = [r for r in results if r["lookalike"]]
    figures = {
        "scripts": len(results),
        "exact": total["exact"] / len(results),
        "under": total["under"], "over": total["over"], "no_decision": total["no decision"],
        "emergency_recall": len(escalated) / len(emergencies) if emergencies else 1.0,
        "median_questions": statistics.median(r["questions"] for r in results) if results else 0,
        "already_said": repeated / asked if asked else 0.0,
        "lookalikes_escalated": sum(1 for r in lookalikes if r["got"] in ESCALATING
                                    and r["gold"] not in ESCALATING),
        "lookalikes": len(lookalikes),
        "lookalikes_escalated_unasked": sum(1 for r in lookalikes if r["escalated_unasked"]
                                            and r["gold"] not in ESCALATING),
    }
    print(f"  exact level {figures['exact']:.1%}  under-triage {figures['under']}  over-triage {figures['over']}  "
          f"no decision {figures['no_decision']}")
    print(f"  emergency recall {len(escalated)}/{len(emergencies)} ({figures['emergency_recall']:.1%})  "
          f"median screening questions {figures['median_questions']}")
    print(f"  questions about something already said {repeated}/{asked} ({figures['already_said']:.1%})  "
          f"look-alike scripts escalated {figures['lookalikes_escalated']}/{figures['lookalikes']} "
          f"({figures['lookalikes_escalated_unasked']} without a confirming question)")
    for result in results:
        if verdict(result) != "exact" or (verbose and result["repeated"]):
            print(f"  {verdict(result):<11} {result['id']}: gold {result['gold']}, got {result['got']}, "
                  f"asked {result['asked']}")
            if verbose:
                print("\n".join(f"      {line}" for line in result["transcript"]))
    return figures


def start_servers():
    from knowledge.nlp.pipeline import check_built  # noqa: PLC0415
    from testing.servers import base_env, start_bot  # noqa: PLC0415  (shared server launcher)

    check_built()   # Rasa would refuse a stale pipeline: `make spacy`
    log_dir = Path(tempfile.mkdtemp(prefix="bench-triage-"))
    database = log_dir / "bench.sqlite"
    env = base_env(CLINIC_DATABASE_URL=f"sqlite:///{database}", **BENCH_ENV)
    env.pop("CLINIC_REDIS_URL", None)
    from storage.migrate import upgrade  # noqa: PLC0415

    upgrade(env["CLINIC_DATABASE_URL"])
    print(f"starting the action server and Rasa (logs in {log_dir}) ...", file=sys.stderr)
    return start_bot(log_dir, env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", action="append", choices=["dev", "dev2", "dev3", "dev4", "dev5", "dev6", "test"],
                        help="dev, dev2 ... dev6 (earlier held-out splits, tuned on since), test (held out, when one is written); repeat; default dev")
    parser.add_argument("--url", help="a running bot; default: start one here")
    parser.add_argument("--only", help="script ids, comma-separated")
    parser.add_argument("--messages-only", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    splits = args.split or ["dev"]
    figures: dict[str, dict] = {}
    for split in splits:
        messages = run_messages(DATA_DIR / f"{split}_messages.yml", args.verbose)
        p, r, f1 = messages["findings"]
        ip, ir, if1 = messages["ids"]
        print(f"\n{split} messages: {messages['messages']}  findings (id+status) P {p:.3f} R {r:.3f} F1 {f1:.3f}  "
              f"(id only P {ip:.3f} R {ir:.3f} F1 {if1:.3f})")
        rp, rr, rf1 = messages["rules_only"]
        print(f"  baseline, rules only (no learned reader): P {rp:.3f} R {rr:.3f} F1 {rf1:.3f}"
              f"{'  (the reader was trained on this split: in-sample)' if split.startswith('dev') else ''}")
        print(f"  look-alike messages whose findings alone escalate: {messages['lookalikes_escalated']}"
              f"/{messages['lookalikes']}")
        if args.verbose:
            print("\n".join(messages["misses"]))
        figures[f"{split}_messages"] = {k: v for k, v in messages.items() if k != "misses"}
    if not args.messages_only:
        bot = None
        url = args.url
        if not url:
            bot = start_servers()
            url = bot.url
        try:
            for split in splits:
                played = run_scripts(url, DATA_DIR / f"{split}_scripts.yml", args.only, args.verbose)
                figures[f"{split}_scripts"] = report_scripts(f"{split} scripts", played["results"], args.verbose)
        finally:
            if bot:
                bot.stop()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
