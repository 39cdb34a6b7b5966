"""Our Rasa bot against a bare Rasa bot on the same machine and channel (REST), side by side.

    .venv/bin/python benchmarks/rasa_latency.py [--turns 500] [--concurrency 50] [--rounds 2]
        [--no-training] [--profile] [--ours-pythonpath DIR] [--name rasa_latency]

The bare bot is Rasa's own starter (`rasa init`), generated, trained once and cached in
build/bench/bare/. For each bot: turn latency over sequential turns of its own conversations (ours:
scripted patients through consent, screening questions, outcomes and questions), 50 concurrent
conversations (throughput, errors, p95), two replicas against one on PostgreSQL + Redis, peak RSS of
each Rasa process tree, time from start to first answer, and full training time. Ours runs as
docker-compose.yml configures it (testing/deployment.py: local_environment) on a fresh
PostgreSQL database and this machine's Redis; the bare bot with Rasa's defaults
(in-memory stores, the floor) and also on PostgreSQL + Redis. All run at once and their turns are
interleaved (sequential: conversation by conversation; concurrent: rounds in alternating order),
so load from other jobs on the machine hits them alike.

Every Rasa process gets TF_INTRA_OP_PARALLELISM_THREADS=TF_INTER_OP_PARALLELISM_THREADS=1 (two
replicas share 2 cores). Rate limits stay on for ours, set far above the load. Results go to
results/bench/rasa_latency.json and .png; --profile also records py-spy samples of our Rasa and
action server during the sequential run and prints where the time goes.

The run is here; its parts (conversations and load, processes, profiling, training, report) are
in benchmarks/latency/.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.latency import BARE_DIR, BENCH_DIR, RESULTS, log  # noqa: E402
from benchmarks.latency.load import BARE, OURS, Bot, concurrent_rounds, sequential, with_latencies  # noqa: E402
from benchmarks.latency.processes import (  # noqa: E402
    PeakRss,
    bare_model,
    bare_rasa,
    bare_storage_endpoints,
    delete_keys,
    start,
)
from benchmarks.latency.profiling import Profiler  # noqa: E402
from benchmarks.latency.report import compare, plot, print_table  # noqa: E402
from benchmarks.latency.training import training_times  # noqa: E402
from clinic.settings import ToolSettings  # noqa: E402
from testing.deployment import local_environment  # noqa: E402
from testing.servers import MODEL, Process, action_server, base_env, free_port, rasa_server  # noqa: E402
from testing.synthetic import temporary_database  # noqa: E402

THREADS = {"TF_INTRA_OP_PARALLELISM_THREADS": "1", "TF_INTER_OP_PARALLELISM_THREADS": "1"}


def load_average() -> dict:
    one, five, fifteen = os.getloadavg()
    return {"1min": round(one, 2), "5min": round(five, 2), "15min": round(fifteen, 2), "cores": os.cpu_count()}


def show_load(when: str) -> dict:
    load = load_average()
    log(f"load average {when}: {load['1min']} / {load['5min']} / {load['15min']} (1/5/15 min) on "
        f"{load['cores']} cores. Other jobs may be running on this machine; figures are comparable "
        f"within this run only.")
    return load


def measure(args, log_dir: Path) -> tuple[dict, dict]:
    """Start every configuration, then measure them interleaved."""
    rss = PeakRss()
    bare_path = bare_model()
    bare, ours = {"model": str(bare_path.relative_to(ROOT))}, {"model": str(MODEL.relative_to(ROOT))}
    plain = Bot("bare", BARE)
    bare_pg, ours_bot = Bot("bare-pg", BARE), Bot("ours", OURS)
    processes: list[Process] = []
    lock_prefix = f"benchbare{uuid.uuid4().hex[:8]}"  # Rasa wants an alphanumeric prefix
    limit_prefix = f"bench-rasa-{uuid.uuid4().hex[:8]}:"
    with contextlib.ExitStack() as stack:
        try:
            bare_url = stack.enter_context(temporary_database("bench_bare", migrate=False))
            ours_url = stack.enter_context(temporary_database("bench_rasa"))
            env = base_env(**THREADS)
            plain.replicas = [bare_rasa(bare_path, env, log_dir, BARE_DIR / "endpoints.yml")]
            processes += plain.replicas
            log("starting the bare bot (Rasa's defaults: in-memory stores) alone ...")
            bare["ready_s"] = round(start(plain.replicas[0], rss, "bare", "hello"), 1)
            log(f"  first answer after {bare['ready_s']} s")

            port = free_port()
            hosts = dict(database_url=ours_url, redis_url=args.redis_url, action_url=f"http://127.0.0.1:{port}/webhook")
            # docker-compose.yml's settings; rate limits on, far above the load.
            ours_env = base_env(**{**local_environment("rasa", **hosts), **THREADS,
                                   "CLINIC_RATE_LIMIT_PREFIX": limit_prefix,
                                   "CLINIC_RATE_LIMIT_PER_MINUTE": "1000000", "CLINIC_RATE_LIMIT_BURST": "1000000",
                                   "CLINIC_RATE_LIMIT_IP_PER_MINUTE": "1000000", "CLINIC_RATE_LIMIT_IP_BURST": "1000000"})
            if args.ours_pythonpath:
                ours_env["PYTHONPATH"] = f"{Path(args.ours_pythonpath).resolve()}{os.pathsep}{ours_env['PYTHONPATH']}"
                log(f"  our Rasa processes import {args.ours_pythonpath} first (--ours-pythonpath)")
            actions = action_server(base_env(**local_environment("actions", **hosts)), log_dir, port)
            ours_bot.replicas = [rasa_server(ours_env, log_dir) for _ in range(2)]
            ours_bot.helpers = [actions]
            processes += [actions, *ours_bot.replicas]
            log("starting ours (PostgreSQL + Redis, docker-compose.yml's settings): the action server, then Rasa ...")
            start(actions, rss, "actions")
            ours["ready_s"] = round(start(ours_bot.replicas[0], rss, "ours", "hello"), 1)
            log(f"  first answer after {ours['ready_s']} s (the action server was already up)")

            endpoints = bare_storage_endpoints(bare_url, args.redis_url, lock_prefix)
            bare_pg.replicas = [bare_rasa(bare_path, env, log_dir, endpoints) for _ in range(2)]
            processes += bare_pg.replicas
            log("starting the second replica of ours and two of the bare bot on PostgreSQL + Redis ...")
            for key, process in (("ours-2", ours_bot.replicas[1]), ("bare-pg-1", bare_pg.replicas[0]),
                                 ("bare-pg-2", bare_pg.replicas[1])):
                start(process, rss, key, wait=False)
            for process in (ours_bot.replicas[1], *bare_pg.replicas):
                process.wait_ready()

            log(f"sequential turns, one conversation of each in turn, {args.turns} turns each ...")
            profiler = Profiler({"rasa": ours_bot.pids[0], "actions": actions.popen.pid}, RESULTS, args.name) \
                if args.profile else None
            loads = asyncio.run(sequential([plain, ours_bot, bare_pg], args.turns))
            if profiler:
                ours["profile"] = profiler.stop()
            bare["sequential"], ours["sequential"] = with_latencies(loads["bare"]), with_latencies(loads["ours"])
            bare["pg_sequential"] = with_latencies(loads["bare-pg"])

            log(f"{args.concurrency} concurrent conversations, {args.rounds} rounds of each run ...")
            runs = concurrent_rounds([("bare@50", plain, 1), ("ours@50", ours_bot, 1), ("bare-pg x1", bare_pg, 1),
                                      ("ours x2", ours_bot, 2), ("bare-pg x2", bare_pg, 2)], args)
            bare["concurrent"], ours["concurrent"] = runs["bare@50"], runs["ours@50"]
            bare["pg_one_replica"], bare["pg_two_replicas"] = runs["bare-pg x1"], runs["bare-pg x2"]
            ours["pg_one_replica"], ours["pg_two_replicas"] = runs["ours@50"], runs["ours x2"]
        finally:
            for process in reversed(processes):
                process.stop()
            rss.stop()
            delete_keys(args.redis_url, f"{limit_prefix}*")
            delete_keys(args.redis_url, f"{lock_prefix}:*")
    mb = lambda key: round(rss.peaks.get(key, 0) / 2**20)  # noqa: E731
    bare.update(peak_rss_mb=mb("bare"), peak_rss_pg_replicas_mb=[mb("bare-pg-1"), mb("bare-pg-2")])
    ours.update(peak_rss_mb=mb("ours"), peak_rss_second_replica_mb=mb("ours-2"), action_server_peak_rss_mb=mb("actions"))
    return bare, ours


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=500, help="sequential turns per bot (default 500)")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent conversations (default 50)")
    parser.add_argument("--turns-each", type=int, default=10, help="turns per concurrent patient and round (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each concurrent run, alternating (default 2)")
    parser.add_argument("--redis-url", default=ToolSettings().bench_redis_url)
    parser.add_argument("--no-training", action="store_true", help="skip the two full trainings")
    parser.add_argument("--profile", action="store_true", help="py-spy our Rasa and action server")
    parser.add_argument("--name", default="rasa_latency", help="results/bench/NAME.json and .png (default rasa_latency)")
    parser.add_argument("--ours-pythonpath", default="", help="a folder put before the project on our Rasa "
                        "processes' PYTHONPATH, e.g. with a sitecustomize.py to try a fix without editing the project")
    args = parser.parse_args()
    if not MODEL.exists():
        print(f"{MODEL} is missing: run `make train`", file=sys.stderr)
        return 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    load_start = show_load("at start")
    log(f"{args.turns} sequential turns per bot, {args.concurrency} concurrent conversations x "
        f">= {args.turns_each} turns; TensorFlow threads per Rasa process: intra 1, inter 1")
    log_dir = BENCH_DIR / "logs" / args.name  # this run's server and training logs (the last run's replaced)
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    bare, ours = measure(args, log_dir)
    results = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                           "load_average_start": load_start},
               "settings": {**vars(args), "tf_threads": THREADS}, "bare": bare, "ours": ours, "training": None,
               "comparison": compare(bare, ours, None)}
    save(results, args)  # kept if training fails
    training = None if args.no_training else training_times(log_dir)
    load_end = show_load("at end")

    rows = compare(bare, ours, training)
    print_table(rows)
    b, o = bare["pg_sequential"], ours["sequential"]
    print(f"\nSame storage (PostgreSQL + Redis) for both: turn p50 {b['p50_ms']} vs {o['p50_ms']} ms, "
          f"p95 {b['p95_ms']} vs {o['p95_ms']} ms (ours/bare p95 {round(o['p95_ms'] / b['p95_ms'], 2)}x).")
    print(f"Ours also runs an action server: peak RSS {ours['action_server_peak_rss_mb']} MB (not in the ratio).")
    for name, stats in (("bare", bare), ("ours", ours)):
        seq = stats["sequential"]
        print(f"{name}: sequential {seq['turns']} turns, {seq['errors']} errors, "
              f"{seq['conversations_without_outcome']} conversations without an outcome, "
              f"{seq['degraded_replies']} degraded replies")
    for name, stats in (("bare", bare), ("ours", ours)):
        one, two = stats["pg_one_replica"].get("cpu", {}), stats["pg_two_replicas"].get("cpu", {})
        helpers = lambda cpu: f", action server {cpu['action_server_cores_used']}" if cpu.get("action_server_cores_used") else ""  # noqa: E731
        print(f"{name} on PostgreSQL + Redis: machine CPU busy {one.get('machine_busy_pct')}% with one replica "
              f"(cores used: Rasa {one.get('rasa_cores_used')}{helpers(one)}), {two.get('machine_busy_pct')}% with two "
              f"(Rasa {two.get('rasa_cores_used')}{helpers(two)})")
    if ours.get("profile"):
        for name, summary in ours["profile"].items():
            print(f"\nprofile of our {name} during the sequential run: {summary.get('samples')} samples; "
                  f"self time by package (%): {summary.get('self_pct_by_package')}")
            print("  most often on the stack (% of samples):")
            for frame, pct in list((summary.get("inclusive_pct") or {}).items())[:15]:
                print(f"  {pct:5.1f}%  {frame}")

    results["machine"]["load_average_end"] = load_end
    results.update(training=training, comparison=rows)
    save(results, args)
    log(f"wrote results/bench/{args.name}.json and .png; logs in {log_dir}")
    return 0


def save(results: dict, args) -> None:
    (RESULTS / f"{args.name}.json").write_text(json.dumps(results, indent=1))
    plot(results["bare"], results["ours"], args.concurrency, RESULTS / f"{args.name}.png")


if __name__ == "__main__":
    sys.exit(main())
