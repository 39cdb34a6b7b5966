"""The full hostile-input run: ≥ 10,000 generated messages against the real bot on every channel.

    python benchmarks/fuzz.py                 # 10,100 messages (make fuzz)
    python benchmarks/fuzz.py --scale 0.1     # a tenth, to try it
    python benchmarks/fuzz.py --seed 1234     # replay a run (the seed is printed)

Starts the action server (actions/server.py with its token) and Rasa with every channel enabled
on fake secrets (their platform APIs faked on 127.0.0.1), on a throwaway PostgreSQL database;
sends hypothesis-generated cases (testing/fuzz/cases.py: huge, empty, control characters,
invalid UTF-8, deep nesting, wrong types, HTML/JS, SQL, prompt-like text, 1 MB bodies,
malformed but correctly signed webhook payloads, unsigned and forged ones); prints progress and
then the counts per channel and status, and the problems. Exit status 1 on any problem: a 5xx,
a dropped connection, a crashed dialogue, silence, a body over the limit not answered 413, an
unsigned/forged request not refused, a conversation Rasa could not store, Rasa not answering
normally afterwards.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from testing.fuzz.run import CHANNELS, Tally, answers_normally, fuzz_channel  # noqa: E402
from testing.fuzz.stack import FakePlatformAPI, hostile_env, start_hostile_stack  # noqa: E402
from testing.servers import MODEL  # noqa: E402
from testing.synthetic import temporary_database  # noqa: E402

COUNTS = {"rest": 4000, "socketio": 1500, "telegram": 1200, "slack": 1200, "facebook": 1100, "twilio": 1100}
LOG_PROBLEMS = {
    "not_stored": "Falling back to use the 'InMemoryTrackerStore'",
    "dialogue_failed": "the dialogue failed on a message",
    "unforeseen_payload": "failed on a request; answered 400",
    "action_failed": "Encountered an exception while running action",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every channel's count")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--channels", default=",".join(CHANNELS))
    parser.add_argument("--logs", type=Path, default=None, help="keep the servers' logs here")
    args = parser.parse_args()
    if not MODEL.exists():
        print(f"{MODEL} is missing: run `make train`", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    channels = [c for c in args.channels.split(",") if c]
    counts = {c: max(1, round(COUNTS[c] * args.scale)) for c in channels}
    log_dir = args.logs or Path(tempfile.mkdtemp(prefix="clinic-fuzz-"))
    print(f"fuzz: {sum(counts.values())} messages, seed {seed}, logs in {log_dir}", flush=True)

    tally = Tally()
    started = time.monotonic()
    with FakePlatformAPI() as api, temporary_database("clinic_fuzz_bench") as url:
        stack = start_hostile_stack(log_dir, hostile_env(url, api.url))
        try:
            rasa = psutil.Process(stack.rasa.popen.pid)
            memory_before = rasa.memory_info().rss
            print(f"servers up in {time.monotonic() - started:.0f} s; Rasa at {stack.url}", flush=True)
            for channel in channels:
                channel_started = time.monotonic()

                def progress(name: str, sent: int, total: int = counts[channel], since: float = channel_started):
                    if sent % 250 == 0 or sent == total:
                        rate = sent / max(time.monotonic() - since, 1e-6)
                        print(f"  {name:9s} {sent:5d}/{total} ({rate:5.1f}/s) problems so far: "
                              f"{tally.total_problems()}", flush=True)

                fuzz_channel(channel, stack.url, counts[channel], tally, progress, seed=seed)
            ok, detail = answers_normally(stack.url)
            alive = stack.rasa.popen.poll() is None and stack.actions.popen.poll() is None
            memory_after = rasa.memory_info().rss if alive else 0
            logs = stack.logs()
        finally:
            stack.stop()
    elapsed = time.monotonic() - started

    rasa_log = "\n".join(text for name, text in logs.items() if name.startswith("rasa-"))
    log_problems = {name: rasa_log.count(needle) for name, needle in LOG_PROBLEMS.items()}
    print(f"\n{tally.report()}")
    print("\nRasa log: " + ", ".join(f"{name}: {count}" for name, count in log_problems.items())
          + f"; tracebacks: {rasa_log.count('Traceback')}")
    print(f"Rasa still running: {alive}; answers a new patient normally afterwards: {ok} ({detail})")
    print(f"Rasa memory: {memory_before / 2**20:.0f} MB before, {memory_after / 2**20:.0f} MB after")
    print(f"{tally.count()} messages in {elapsed:.0f} s (seed {seed})")
    failed = tally.total_problems() or not ok or not alive or log_problems["not_stored"] \
        or log_problems["dialogue_failed"]
    print("FAILED" if failed else "PASSED: 0 responses with status 5xx, 0 crashes")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
