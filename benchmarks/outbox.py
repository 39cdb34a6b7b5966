"""Outcomes through the outbox to a local webhook receiver: throughput, delay, lost, duplicated.

    .venv/bin/python benchmarks/outbox.py [--outcomes 10000] [--conversations 2000] [--rate 40]

For each way of delivering (one message per transaction, one at a time: the baseline; then the
worker's batches of due messages posted by a few threads), a fresh PostgreSQL database gets
--outcomes triage outcomes written through the action server's repository (each with its outbox
row in the same transaction), at --rate a second spread over --conversations conversations, while
the webhook worker (its own process, as in production) posts them as FHIR bundles to a receiver on
127.0.0.1 that checks signatures and keys. Delay is from the outcome's commit to its arrival.
Prints one line per way; exits 1 if anything was lost, duplicated after deduplication, or out of
order within a conversation.
"""
from __future__ import annotations

import argparse
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from clinic.settings import child_environment  # noqa: E402
from storage.audit import conversation_label  # noqa: E402
from storage.db import get_engine, session_factory  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402
from storage.outbox import OutboxPolicy  # noqa: E402
from storage.repository import Repository  # noqa: E402
from testing import synthetic  # noqa: E402
from testing.webhook_receiver import Receipt  # noqa: E402

SECRET = "benchmark-webhook-secret"
PSEUDONYM_KEY = "benchmark-key"
MODES = (("one at a time (baseline)", 1, 1), ("batched: 100 a batch, 4 threads", 100, 4))
WRITERS = 4
DRAIN_TIMEOUT_SECONDS = 600
FINDINGS = {"back_pain": "present", "leg_weakness": "present", "screen.spinal_cord_compression": "absent",
            "cancer_history": "absent"}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def write_outcomes(repository: Repository, outcomes: int, conversations: int, rate: float,
                   committed: dict[tuple[str, str], float]) -> float:
    """Write at `rate` a second from WRITERS threads; returns the seconds it took. Outcome i is
    the (i // conversations + 1)-th of conversation i % conversations, so each conversation's
    outcomes are written in order by one thread."""
    start = time.monotonic()
    lock = threading.Lock()

    def writer(index: int) -> None:
        for number in range(index, outcomes, WRITERS):
            pause = start + number / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sender = f"bench-{number % conversations:05d}"
            key = f"user@{number // conversations + 1}"
            repository.record_outcome(
                conversation_id=sender, level="urgent", red_flags=["progressive_weakness"],
                rules=["progressive_weakness.new_weakness"], protocol_version="2026.11.0",
                plan=[], reason="New leg weakness needs a clinician today.", findings=FINDINGS,
                channel="rest", created_at=datetime.now(timezone.utc), event_key=key,
                sources=["NICE CKS Sciatica"])
            with lock:
                committed[(sender, key)] = time.time()

    # one thread per residue class of conversations keeps each conversation on one thread
    assert conversations % WRITERS == 0, "conversations must be a multiple of the writer count"
    threads = [threading.Thread(target=writer, args=(index,)) for index in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - start


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_receiver(port: int, out: Path) -> subprocess.Popen:
    receiver = subprocess.Popen(
        [sys.executable, "-m", "testing.webhook_receiver", "--secret", SECRET, "--port", str(port),
         "--out", str(out)], cwd=ROOT, env=child_environment(PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE, text=True)
    assert receiver.stdout.readline().strip() == "listening"
    return receiver


def delivered_count(engine) -> int:
    with session_factory(engine)() as session:
        return session.execute(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.status == "delivered")).scalar_one()


def run(mode: str, batch_size: int, concurrency: int, args) -> dict:
    """The receiver and the worker run in their own processes; this one writes the outcomes."""
    receipts_file = Path(args.var_dir) / f"receipts-{batch_size}.jsonl"
    with synthetic.temporary_database("clinic_bench_outbox") as url:
        engine = get_engine(url)
        repository = Repository(engine, outbox=OutboxPolicy(("emergency", "urgent")))
        port = free_port()
        receiver = start_receiver(port, receipts_file)
        env = child_environment(PYTHONPATH=str(ROOT), CLINIC_DATABASE_URL=url,
                   CLINIC_WEBHOOK_URL=f"http://127.0.0.1:{port}/webhook",
                   CLINIC_WEBHOOK_SECRET=SECRET, CLINIC_SECRET_KEY=PSEUDONYM_KEY,
                   CLINIC_VAR_DIR=args.var_dir)
        worker = subprocess.Popen(
            [sys.executable, "-m", "storage.outbox_worker", "--batch-size", str(batch_size),
             "--concurrency", str(concurrency)], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        committed: dict[tuple[str, str], float] = {}
        try:
            write_seconds = write_outcomes(repository, args.outcomes, args.conversations,
                                           args.rate, committed)
            deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
            while delivered_count(engine) < len(committed) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
            receiver.send_signal(signal.SIGTERM)
            receiver.wait(timeout=60)
        with session_factory(engine)() as session:
            keys = set(session.execute(select(OutboxMessage.idempotency_key)).scalars())
    receipts = [Receipt(**json.loads(line)) for line in receipts_file.read_text().splitlines()]
    accepted: dict[str, Receipt] = {}
    for receipt in receipts:
        accepted.setdefault(receipt.key, receipt)
    first_write = min(committed.values())
    last_arrival = max((r.at for r in accepted.values()), default=first_write)
    by_conversation = defaultdict(list)
    for receipt in sorted(accepted.values(), key=lambda r: r.at):
        by_conversation[receipt.conversation].append(receipt.sequence)
    in_order = all(seq == list(range(1, len(seq) + 1)) for seq in by_conversation.values())
    # an outcome that reached the clinic under two keys (written twice to the outbox)
    places = [(r.conversation, r.sequence) for r in accepted.values()]
    duplicated = len(places) - len(set(places)) + max(0, len(keys) - len(committed))
    delays = _delays(committed, accepted)
    return {
        "mode": mode, "written": len(committed), "delivered": len(accepted),
        "lost": len(set(keys) - set(accepted)) + max(0, len(committed) - len(keys)),
        "duplicated": duplicated + len(set(accepted) - set(keys)),
        "repeats": len(receipts) - len(accepted), "in_order": in_order,
        "write_rate": len(committed) / write_seconds,
        "throughput": len(accepted) / max(last_arrival - first_write, 1e-9),
        "p50": statistics.median(delays) if delays else float("nan"),
        "p95": percentile(delays, 0.95) if delays else float("nan"),
        "max": max(delays, default=float("nan")),
    }


def _delays(committed: dict[tuple[str, str], float], accepted: dict) -> list[float]:
    """Match each arrival to its outcome: a conversation's k-th arrival (by sequence) is its k-th
    outcome (by the number in its event key), and arrivals name conversations by pseudonym, which
    is the same for all of a conversation's messages."""
    by_label: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for (sender, key), at in committed.items():
        by_label[conversation_label(sender, PSEUDONYM_KEY)].append((int(key.split("@")[1]), at))
    delays = []
    for receipt in accepted.values():
        commits = sorted(by_label[receipt.conversation])
        if receipt.sequence <= len(commits):
            delays.append(receipt.at - commits[receipt.sequence - 1][1])
    return delays


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outcomes", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=40.0, help="outcomes written per second")
    args = parser.parse_args()
    args.var_dir = tempfile.mkdtemp(prefix="clinic-bench-outbox-")
    print(f"{args.outcomes} outcomes in {args.conversations} conversations, written at "
          f"{args.rate:.0f}/s by {WRITERS} threads; FHIR bundles posted to 127.0.0.1", flush=True)
    failed = False
    for mode, batch_size, concurrency in MODES:
        result = run(mode, batch_size, concurrency, args)
        ok = (result["lost"] == 0 and result["duplicated"] == 0 and result["in_order"]
              and result["delivered"] == result["written"] == args.outcomes)
        failed |= not ok
        print(f"{result['mode']:34} written {result['written']} ({result['write_rate']:.0f}/s), "
              f"delivered {result['delivered']}, lost {result['lost']}, duplicated "
              f"{result['duplicated']} (repeats deduplicated: {result['repeats']}), in order: "
              f"{'yes' if result['in_order'] else 'NO'}; throughput {result['throughput']:.0f}/s; "
              f"delay p50 {result['p50']:.2f} s, p95 {result['p95']:.2f} s, max {result['max']:.2f} s",
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
