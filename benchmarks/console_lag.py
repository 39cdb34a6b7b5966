"""Console lag while conversations are held: how long after a turn is stored the staff console's
list shows it, at 50 new conversations a second, against the old page-view projection.

    .venv/bin/python benchmarks/console_lag.py [--per-second 50] [--seconds 60] [--turn-gap 2]

Each conversation (testing/stream.py: two turns, every fourth an emergency) is saved turn by turn
through the project's tracker store (Rasa's SQLTrackerStore) with the event broker Rasa builds from
bot/endpoints.yml, into a fresh PostgreSQL database, by two processes as docker-compose.yml's two
Rasa replicas (NLU and policies are left out: what is measured is the way from the events table to
the console). A
sampler reads the summary rows (what the list page shows) every 100 ms; a turn's lag is from its
commit to the first sample whose row shows it (its last event's time is the row's last activity).

Set-ups, each on a fresh database with the same conversations:
  before  the old path: a list page view every --view-every s projects at most 500 events (the
          hourly retention job's catch-up falls outside the run)
  polling the projector worker polling the events table (`make run`: no RabbitMQ)
  stream  the projector worker woken by Rasa's broker through RabbitMQ (docker-compose.yml)
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
from sqlalchemy import select  # noqa: E402

from clinic.settings import set_environment  # noqa: E402
from storage import projector  # noqa: E402
from storage.db import get_engine, session_factory  # noqa: E402
from storage.models import Conversation, utcnow  # noqa: E402
from testing import stream, synthetic  # noqa: E402

OLD_VIEW_EVENTS = 500          # what a list page view projected before the worker
SAMPLE_SECONDS = 0.1
DRAIN_SECONDS = 30
TARGET_P95_SECONDS = 5.0


class Sampler(threading.Thread):
    """Reads the summary rows changed lately every SAMPLE_SECONDS and keeps, per conversation, when
    its row first showed each last-activity time."""

    def __init__(self, engine) -> None:
        super().__init__(daemon=True)
        self.engine, self.stop = engine, threading.Event()
        self.shown: dict[str, list[tuple[float, datetime]]] = {}   # sender -> (sampled at, last activity)

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> None:
        since = utcnow() - timedelta(seconds=15)     # longer than any projecting transaction
        with session_factory(self.engine)() as session:
            rows = session.execute(select(Conversation.sender_id, Conversation.last_activity_at)
                                   .where(Conversation.updated_at >= since)).all()
        now = time.time()
        for sender, last_activity in rows:
            history = self.shown.setdefault(sender, [])
            if not history or history[-1][1] != last_activity:
                history.append((now, last_activity))

    def lags(self, stored: list[tuple[str, float, float]]) -> list[float]:
        """Per stored turn (sender, its last event's time, committed at): seconds until its row
        showed it; infinity if it never did."""
        lags = []
        for sender, last_event, committed in stored:
            at = datetime.fromtimestamp(last_event, timezone.utc)
            seen = next((sampled for sampled, shown in self.shown.get(sender, []) if shown >= at), None)
            lags.append(float("inf") if seen is None else seen - committed)
        return lags


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def writer(share: tuple[int, int], conversations: dict, url: str, rabbitmq_url: str, per_second: float,
           turn_gap: float, ready, go, results) -> None:
    """One Rasa process's share of the conversations (run in its own process)."""
    async def hold() -> list:
        store = await stream.tracker_store(url, rabbitmq_url)
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        try:
            return await stream.hold(store, conversations, per_second, turn_gap, share=share)
        finally:
            if store.event_broker:
                await store.event_broker.close()
            store.engine.dispose()
    results.put(asyncio.run(hold()))


def run_setup(name: str, args, log_dir: Path) -> dict:
    count = int(args.per_second * args.seconds)
    t0 = time.time()
    conversations = {f"{name}-{i:05d}": stream.conversation(i, t0) for i in range(count)}
    rabbitmq_url = stream.RABBITMQ_URL if name == "stream" else ""
    with synthetic.temporary_database("clinic_bench_lag") as url:
        engine = get_engine(url)
        sampler = Sampler(engine)
        worker, stop_views = None, threading.Event()
        if name == "before":
            def view_pages() -> None:
                while not stop_views.wait(args.view_every):
                    projector.catch_up(engine, batch_size=OLD_VIEW_EVENTS, max_batches=1)
            threading.Thread(target=view_pages, daemon=True).start()
        else:
            log = log_dir / f"worker-{name}.log"
            log.unlink(missing_ok=True)
            worker = stream.projector_worker(url, rabbitmq_url, log)
            while not log.exists() or "projector worker started" not in log.read_text(errors="replace"):
                assert worker.poll() is None, f"the worker stopped; see {log}"
                time.sleep(0.2)
        spawn = multiprocessing.get_context("spawn")
        go, results = spawn.Event(), spawn.Queue()
        writers = []
        for k in range(args.writers):
            share = {s: c for i, (s, c) in enumerate(conversations.items()) if i % args.writers == k}
            ready = spawn.Event()
            process = spawn.Process(target=writer, args=((k, args.writers), share, url, rabbitmq_url,
                                                         args.per_second, args.turn_gap, ready, go, results))
            process.start()
            writers.append((process, ready))
        for _, ready in writers:
            ready.wait(timeout=300)
        cpu_before = psutil.Process(worker.pid).cpu_times() if worker else None
        sampler.start()
        started = time.monotonic()
        go.set()
        stored = [turn for _ in writers for turn in results.get()]
        held_for = time.monotonic() - started
        for process, _ in writers:
            process.join()
        drained = time.monotonic()
        while max(sampler.lags(stored)) == float("inf") and time.monotonic() - drained < DRAIN_SECONDS:
            time.sleep(SAMPLE_SECONDS)
        sampler.stop.set()
        sampler.join()
        sampler.sample()
        stop_views.set()
        cpu = None
        if worker:
            times = psutil.Process(worker.pid).cpu_times()
            cpu = (times.user + times.system - cpu_before.user - cpu_before.system) / held_for
            worker.terminate()
            worker.wait(timeout=30)
    first_turns = {}
    for sender, _, committed in sorted(stored, key=lambda turn: turn[2]):
        first_turns.setdefault(sender, committed)
    span = max(first_turns.values()) - min(first_turns.values())
    return {"name": name, "rate": (len(first_turns) - 1) / span, "lags": sampler.lags(stored), "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-second", type=float, default=50, help="new conversations a second")
    parser.add_argument("--seconds", type=float, default=60, help="how long conversations keep coming")
    parser.add_argument("--turn-gap", type=float, default=2.0, help="seconds between a conversation's turns")
    parser.add_argument("--view-every", type=float, default=10.0,
                        help="before: seconds between list page views")
    parser.add_argument("--writers", type=int, default=2,
                        help="processes saving turns, as docker-compose.yml's two Rasa replicas")
    parser.add_argument("--setup", action="append", choices=("before", "polling", "stream"))
    parser.add_argument("--log-dir", default="results/bench/console_lag")
    args = parser.parse_args()
    # The writer processes start fresh interpreters that import Rasa: no TensorFlow or deprecation chatter.
    set_environment(TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)

    print(f"Console lag: {args.per_second:g} new conversations/s for {args.seconds:g} s, two turns "
          f"{args.turn_gap:g} s apart, saved by {args.writers} processes through Rasa's tracker store "
          f"into PostgreSQL")
    results = [run_setup(name, args, log_dir) for name in args.setup or ("before", "polling", "stream")]
    print(f"\n  {'set-up':<10}{'held/s':>8}{'turns':>8}{'p50 s':>8}{'p95 s':>8}{'max s':>8}"
          f"{'not shown':>11}{'worker CPU':>12}")
    for result in results:
        lags = result["lags"]
        cpu = f"{result['cpu']:.0%}" if result["cpu"] is not None else "-"
        print(f"  {result['name']:<10}{result['rate']:>8.1f}{len(lags):>8}{percentile(lags, 0.5):>8.2f}"
              f"{percentile(lags, 0.95):>8.2f}{max(lags):>8.2f}{lags.count(float('inf')):>11}{cpu:>12}")
    print("\n  held/s: new conversations stored per second (their first turns' span)")
    print(f"  lag: from a turn's commit to the first {SAMPLE_SECONDS * 1000:.0f} ms sample of the summary "
          f"rows showing it ('inf': not shown {DRAIN_SECONDS} s after the last turn); worker CPU: share of one "
          f"core while conversations came")
    for result in results:
        if result["name"] != "before":
            p95 = percentile(result["lags"], 0.95)
            verdict = "met" if p95 <= TARGET_P95_SECONDS else "MISSED"
            print(f"  {result['name']}: console lag p95 {p95:.2f} s (target <= {TARGET_P95_SECONDS:g} s: {verdict})")


if __name__ == "__main__":
    main()
