"""Our Rasa bot against a bare Rasa bot on the same machine and channel (REST), side by side.

    .venv/bin/python benchmarks/rasa_latency.py [--turns 500] [--concurrency 50] [--no-training] [--profile]

The bare bot is Rasa's own starter (`rasa init`), generated, trained once and cached in
build/bench/bare/. For each bot: turn latency over sequential turns of its own conversations (ours:
scripted patients through consent, screening questions, outcomes and questions), 50 concurrent
conversations (throughput, errors, p95), two replicas against one on PostgreSQL + Redis, peak RSS of
each Rasa process tree, time from start to first answer, and full training time. Ours runs as
docker-compose.yml configures it (tests/deploy/deployment.py: local_environment) on a fresh
PostgreSQL database and this machine's Redis; the bare bot runs first with Rasa's defaults
(in-memory stores, the floor) and then on PostgreSQL + Redis for the replica comparison.

Every Rasa process gets TF_INTRA_OP_PARALLELISM_THREADS=TF_INTER_OP_PARALLELISM_THREADS=1 (two
replicas share 2 cores). Rate limits stay on for ours, set far above the load. Results go to
results/bench/rasa_latency.json and .png; --profile also records py-spy samples of our Rasa and
action server during the sequential run and prints where the time goes.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psutil  # noqa: E402

from storage.synthetic import temporary_database  # noqa: E402
from tests.deploy.deployment import local_environment  # noqa: E402
from tests.servers import MODEL, Process, action_server, base_env, free_port, rasa_server  # noqa: E402

BIN = Path(sys.executable).parent
BENCH_DIR = ROOT / "build" / "bench"
BARE_DIR = BENCH_DIR / "bare"
RESULTS = ROOT / "results" / "bench"
THREADS = {"TF_INTRA_OP_PARALLELISM_THREADS": "1", "TF_INTER_OP_PARALLELISM_THREADS": "1"}
REQUEST_TIMEOUT = 60
# Ours against bare (ratios) and absolute limits (issue 6).
TARGETS = {"turn_p95": ("ratio", "<=", 1.3), "throughput": ("ratio", ">=", 0.8), "errors": ("abs", "<=", 0),
           "replica_speedup": ("abs", ">=", 1.7), "peak_rss": ("ratio", "<=", 1.1),
           "ready_s": ("abs", "<=", 30.0), "training_s": ("abs", "<=", 300.0)}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- conversations ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Until:
    """Answer `answer` until the bot gives a triage outcome (at most `limit` times)."""
    answer: str
    limit: int = 25


OURS = [
    ("calf cramps: consent, a question mid-screen, outcome, a question after",
     ["my calves feel tight and cramp at night", "/affirm", "what is the soleus?", Until("no"),
      "does crossing my legs matter?"]),
    ("back pain: screening to an outcome",
     ["my lower back hurts when I bend", "/affirm", Until("no"), "thank you"]),
    ("emergency in the first message",
     ["I can't feel it when I wipe and my back is killing me", "ok what should I do"]),
    ("a red flag revealed in an answer", ["my lower back hurts", "/affirm", "yes, both legs", "ok"]),
    ("consent declined, advice anyway", ["hello", "/deny", "my calf aches after running", Until("no")]),
    ("callback request mid-screen",
     ["my back hurts", "/affirm", "can I talk to a real person please", "phone", "07700 900123", "/affirm",
      Until("no")]),
]
BARE = [
    ("greet, happy, bye", ["hello", "I am feeling great", "bye"]),
    ("greet, sad, helped", ["hi", "I am sad", "yes", "goodbye"]),
    ("greet, unhappy, not helped, bot?", ["hey there", "very unhappy", "no", "are you a bot?", "bye"]),
    ("morning, amazing", ["good morning", "I am amazing", "have a nice day"]),
]


def triage_in(replies: list) -> bool:
    return any(isinstance(r, dict) and (r.get("custom") or {}).get("triage") for r in replies or [])


@dataclass
class Load:
    """Latencies and failures of one measured run."""
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    no_outcome: int = 0
    degraded: int = 0
    wall_s: float = 0.0

    def stats(self) -> dict:
        lat = sorted(self.latencies)
        pct = (lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1)) if lat else (lambda q: None)
        return {"turns": len(lat), "errors": sum(self.errors.values()), "error_kinds": dict(self.errors),
                "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
                "mean_ms": round(1000 * statistics.fmean(lat), 1) if lat else None,
                "throughput_tps": round(len(lat) / self.wall_s, 2) if self.wall_s else None,
                "wall_s": round(self.wall_s, 2), "conversations_without_outcome": self.no_outcome,
                "degraded_replies": self.degraded}


async def say(session: aiohttp.ClientSession, url: str, sender: str, message: str, load: Load) -> list | None:
    started = time.perf_counter()
    try:
        async with session.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)) as response:
            body = await response.json(content_type=None)
            if response.status != 200:
                load.errors[f"HTTP {response.status}"] += 1
                return None
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        load.errors[type(error).__name__] += 1
        return None
    load.latencies.append(time.perf_counter() - started)
    if not body:
        load.errors["empty reply"] += 1
    load.degraded += sum(1 for r in body if isinstance(r, dict) and (r.get("custom") or {}).get("degraded"))
    return body


async def conversation(session, url: str, steps: list, load: Load, tag: str) -> int:
    """One conversation under a new sender id; returns the turns it took."""
    sender = f"bench-{re.sub(r'[^a-z0-9]+', '-', tag)}-{uuid.uuid4().hex[:12]}"
    turns, replies = 0, []
    for step in steps:
        if isinstance(step, Until):
            for _ in range(step.limit):
                if triage_in(replies):
                    break
                replies = await say(session, url, sender, step.answer, load)
                turns += 1
                if replies is None:
                    return turns
            else:
                load.no_outcome += 1
        else:
            replies = await say(session, url, sender, step, load)
            turns += 1
            if replies is None:
                return turns
    return turns


async def sequential(urls: list[str], scenarios: list, turns: int, tag: str, warmup: bool = True) -> Load:
    """Conversations one after another until `turns` turns are measured (after one warm-up round)."""
    async with aiohttp.ClientSession() as session:
        if warmup:
            for _, steps in scenarios:
                await conversation(session, urls[0], steps, Load(), tag + "-warm")
        load, done, index, shown = Load(), 0, 0, 0
        started = time.perf_counter()
        while done < turns:
            done += await conversation(session, urls[index % len(urls)], scenarios[index % len(scenarios)][1], load, tag)
            index += 1
            if done - shown >= 100:
                shown = done
                log(f"  {tag}: {done}/{turns} turns, p95 so far {load.stats()['p95_ms']} ms")
        load.wall_s = time.perf_counter() - started
    return load


async def concurrent(urls: list[str], scenarios: list, clients: int, turns_each: int, tag: str) -> Load:
    """`clients` patients at once, each on one replica (as nginx's ip_hash does), each running
    conversations back to back until it has sent `turns_each` turns."""
    load = Load()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def patient(index: int) -> None:
            done, n = 0, index
            while done < turns_each:
                done += await conversation(session, urls[index % len(urls)], scenarios[n % len(scenarios)][1], load, tag)
                n += 1

        started = time.perf_counter()
        progress = asyncio.create_task(_report(load, tag, clients * turns_each))
        await asyncio.gather(*(patient(i) for i in range(clients)))
        progress.cancel()
        load.wall_s = time.perf_counter() - started
    return load


async def _report(load: Load, tag: str, expected: int) -> None:
    while True:
        await asyncio.sleep(10)
        log(f"  {tag}: {len(load.latencies)}/~{expected} turns, {sum(load.errors.values())} errors")


# --- processes ------------------------------------------------------------------------------------

class PeakRss:
    """Samples the resident memory of process trees; keeps each tree's peak."""

    def __init__(self) -> None:
        self.peaks: dict[str, int] = {}
        self._watched: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def watch(self, name: str, pid: int) -> None:
        self._watched[name] = pid

    def forget(self, name: str) -> None:
        self._watched.pop(name, None)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            for name, pid in list(self._watched.items()):
                try:
                    root = psutil.Process(pid)
                    rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
                except psutil.Error:
                    continue
                self.peaks[name] = max(self.peaks.get(name, 0), rss)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def first_answer(url: str, process: Process, message: str, timeout: float = 300) -> float:
    """Seconds until the REST channel answers `message` (the clock started when the process did)."""
    body = json.dumps({"sender": f"bench-ready-{uuid.uuid4().hex[:8]}", "message": message}).encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited during start-up; see {process.log_path}:\n{process.log_tail()}")
        try:
            request = urllib.request.Request(f"{url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                if response.status == 200 and json.loads(response.read()):
                    return time.monotonic() - process.started
        except (OSError, urllib.error.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} gave no answer within {timeout:.0f} s")


def start(process: Process, rss: PeakRss, key: str, ready_message: str | None = None) -> float | None:
    process.started = time.monotonic()
    process.start()
    rss.watch(key, process.popen.pid)
    if ready_message is None:
        process.wait_ready()
        return None
    return first_answer(process.health_url.rstrip("/"), process, ready_message)


def bare_model() -> Path:
    """The starter bot's model, trained once and cached (`rasa init` trains it)."""
    models = sorted((BARE_DIR / "models").glob("*.tar.gz")) if BARE_DIR.exists() else []
    if models:
        return models[-1]
    log(f"generating the bare bot with `rasa init --no-prompt` in {BARE_DIR.relative_to(ROOT)} (trains once) ...")
    BARE_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(BARE_DIR)], cwd=BARE_DIR,
                   env=base_env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return sorted((BARE_DIR / "models").glob("*.tar.gz"))[-1]


def bare_rasa(model: Path, env: dict, log_dir: Path, endpoints: Path) -> Process:
    credentials = BENCH_DIR / "bare-credentials.yml"
    credentials.write_text("rest:\n")  # the same channel as ours: REST only
    port = free_port()
    command = [str(BIN / "rasa"), "run", "--model", str(model), "--endpoints", str(endpoints),
               "--credentials", str(credentials), "--port", str(port)]
    return Process("bare Rasa", command, env, f"http://127.0.0.1:{port}/", log_dir / f"bare-rasa-{port}.log")


def bare_storage_endpoints(database_url: str, redis_url: str, prefix: str) -> Path:
    from sqlalchemy.engine import make_url

    db, redis_db = make_url(database_url), urllib.parse.urlsplit(redis_url)
    path = BENCH_DIR / "bare-endpoints-postgres.yml"
    path.write_text(
        "tracker_store:\n  type: SQL\n  dialect: postgresql\n"
        f"  url: {db.host}\n  port: {db.port or 5432}\n  db: {db.database}\n  username: {db.username}\n"
        + (f"  password: {db.password}\n" if db.password else "")
        + "lock_store:\n  type: redis\n"
        f"  url: {redis_db.hostname}\n  port: {redis_db.port or 6379}\n  db: {redis_db.path.lstrip('/') or 0}\n"
        f"  key_prefix: {prefix}\n")
    return path


# --- profiling ------------------------------------------------------------------------------------

class Profiler:
    """py-spy record (raw collapsed stacks) of running processes, stopped on demand."""

    def __init__(self, targets: dict[str, int], out_dir: Path) -> None:
        self.children = {}
        for name, pid in targets.items():
            out = out_dir / f"rasa_latency_profile_{name}.txt"
            self.children[name] = (out, subprocess.Popen(
                [str(BIN / "py-spy"), "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
                 "--output", str(out), "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))

    def stop(self) -> dict:
        summaries = {}
        for name, (out, child) in self.children.items():
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            summaries[name] = summarise_profile(out) if out.exists() else {"error": child.stderr.read().decode()[-500:]}
        return summaries


def _package(frame: str) -> str:
    """Top-level package of a py-spy frame "function (path/to/file.py:line)"."""
    path = frame[frame.rfind("(") + 1:].rsplit(":", 1)[0]
    return path.split("/")[0].removesuffix(".py") if "/" in path else path


OUR_PACKAGES = {"bot", "knowledge", "actions", "clinic", "storage"}


def summarise_profile(path: Path) -> dict:
    """Where CPU samples were: self time by package (the innermost frame), and the frames most
    often on the stack (inclusive), leaving out those under every request (server loop)."""
    total, self_time, inclusive = 0, Counter(), Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n, frames = int(count), stack.split(";")
        total += n
        self_time[_package(frames[-1])] += n
        for frame in set(frames):
            inclusive[frame] += n
    share = lambda n: round(100 * n / total, 1) if total else 0.0  # noqa: E731
    busy = [(f, n) for f, n in inclusive.most_common() if n < 0.8 * total]
    return {"samples": total, "self_pct_by_package": {k: share(v) for k, v in self_time.most_common(12)},
            "inclusive_pct": {f: share(n) for f, n in busy[:25]},
            "ours_inclusive_pct": {f: share(n) for f, n in [x for x in busy if _package(x[0]) in OUR_PACKAGES][:12]},
            "raw": str(path.relative_to(ROOT))}


# --- training -------------------------------------------------------------------------------------

def timed(command: list[str], cwd: Path, env: dict, label: str) -> float:
    log(f"training {label}: {' '.join(command[1:3])} ...")
    started = time.monotonic()
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    next_report = 30
    while child.poll() is None:
        time.sleep(1)
        if time.monotonic() - started >= next_report:
            log(f"  {label}: {next_report} s")
            next_report += 30
    if child.returncode:
        raise RuntimeError(f"{label} failed: {child.stderr.read().decode()[-2000:]}")
    return time.monotonic() - started


def training_times() -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        tmp = Path(tmp)
        # A fresh cache each: --force retrains every component anyway; nothing shared with `make train`.
        env = base_env(RASA_CACHE_DIRECTORY=str(tmp / "cache"))
        bare = timed([str(BIN / "rasa"), "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
                      "--out", str(tmp / "bare"), "--force"], BARE_DIR, env, "bare")
        spacy = timed([sys.executable, "-c", "import sys; from pathlib import Path; "
                       "from knowledge.nlp.pipeline import save_pipeline; save_pipeline(Path(sys.argv[1]))",
                       str(tmp / "spacy")], ROOT, env, "ours: spaCy pipeline")
        rasa = timed([str(BIN / "rasa"), "train", "--config", "bot/config.yml", "--domain", "bot/domain", "--data",
                      "nlu_data", "--out", str(tmp / "ours"), "--fixed-model-name", "triage", "--force"],
                     ROOT, env, "ours: rasa train")
    return {"bare_s": round(bare, 1), "ours_s": round(spacy + rasa, 1), "ours_spacy_s": round(spacy, 1),
            "ours_rasa_train_s": round(rasa, 1)}


# --- the run --------------------------------------------------------------------------------------

def load_average() -> dict:
    one, five, fifteen = os.getloadavg()
    return {"1min": round(one, 2), "5min": round(five, 2), "15min": round(fifteen, 2), "cores": os.cpu_count()}


def show_load(when: str) -> dict:
    load = load_average()
    log(f"load average {when}: {load['1min']} / {load['5min']} / {load['15min']} (1/5/15 min) on "
        f"{load['cores']} cores. Other jobs may be running on this machine; figures are comparable "
        f"within this run only.")
    return load


def measure_bare(args, rss: PeakRss, log_dir: Path, redis_url: str) -> dict:
    model = bare_model()
    result = {"model": str(model.relative_to(ROOT))}
    env = base_env(**THREADS)
    rasa = bare_rasa(model, env, log_dir, BARE_DIR / "endpoints.yml")
    log("bare bot, Rasa's defaults (in-memory stores): starting ...")
    try:
        result["ready_s"] = round(start(rasa, rss, "bare", "hello"), 1)
        log(f"  first answer after {result['ready_s']} s")
        result["sequential"] = run(sequential([rasa.health_url.rstrip("/")], BARE, args.turns, "bare"), [rasa.popen.pid])
        result["concurrent"] = run(concurrent([rasa.health_url.rstrip("/")], BARE, args.concurrency, args.turns_each, "bare@50"),
                                       [rasa.popen.pid])
    finally:
        rasa.stop()
        rss.forget("bare")
    result["peak_rss_mb"] = round(rss.peaks["bare"] / 2**20)

    prefix = f"benchbare{uuid.uuid4().hex[:8]}"  # Rasa wants an alphanumeric prefix
    with temporary_database("bench_bare", migrate=False) as database_url:
        endpoints = bare_storage_endpoints(database_url, redis_url, prefix)
        replicas = [bare_rasa(model, env, log_dir, endpoints) for _ in range(2)]
        log("bare bot on PostgreSQL + Redis: one replica, then two ...")
        try:
            start(replicas[0], rss, "bare-pg-1")
            urls = [r.health_url.rstrip("/") for r in replicas]
            pids = [r.popen.pid for r in replicas]
            result["pg_sequential"] = run(sequential(urls[:1], BARE, args.turns, "bare-pg"), pids[:1])
            result["pg_one_replica"] = run(concurrent(urls[:1], BARE, args.concurrency, args.turns_each, "bare-pg x1"), pids[:1])
            start(replicas[1], rss, "bare-pg-2")
            pids = [r.popen.pid for r in replicas]
            result["pg_two_replicas"] = run(concurrent(urls, BARE, args.concurrency, args.turns_each, "bare-pg x2"), pids)
        finally:
            for replica in replicas:
                replica.stop()
            rss.forget("bare-pg-1")
            rss.forget("bare-pg-2")
    return result


def measure_ours(args, rss: PeakRss, log_dir: Path, redis_url: str) -> dict:
    result = {"model": str(MODEL.relative_to(ROOT))}
    prefix = f"bench-rasa-{uuid.uuid4().hex[:8]}:"
    with temporary_database("bench_rasa") as database_url:
        port = free_port()
        hosts = dict(database_url=database_url, redis_url=redis_url, action_url=f"http://127.0.0.1:{port}/webhook")
        # docker-compose.yml's settings; rate limits on, far above the load.
        env = base_env(**{**local_environment("rasa", **hosts), **THREADS, "CLINIC_RATE_LIMIT_PREFIX": prefix,
                          "CLINIC_RATE_LIMIT_PER_MINUTE": "1000000", "CLINIC_RATE_LIMIT_BURST": "1000000",
                          "CLINIC_RATE_LIMIT_IP_PER_MINUTE": "1000000", "CLINIC_RATE_LIMIT_IP_BURST": "1000000"})
        actions = action_server(base_env(**local_environment("actions", **hosts)), log_dir, port)
        replicas = [rasa_server(env, log_dir) for _ in range(2)]
        log("ours (PostgreSQL + Redis, docker-compose.yml's settings): starting the action server, then Rasa ...")
        try:
            start(actions, rss, "actions")
            result["ready_s"] = round(start(replicas[0], rss, "ours", "hello"), 1)
            log(f"  first answer after {result['ready_s']} s (the action server was already up)")
            urls = [r.health_url.rstrip("/") for r in replicas]
            pids = [replicas[0].popen.pid]
            profiler = Profiler({"rasa": replicas[0].popen.pid, "actions": actions.popen.pid}, RESULTS) \
                if args.profile else None
            result["sequential"] = run(sequential(urls[:1], OURS, args.turns, "ours"), pids[:1])
            if profiler:
                result["profile"] = profiler.stop()
            result["concurrent"] = run(concurrent(urls[:1], OURS, args.concurrency, args.turns_each, "ours@50"), pids[:1])
            result["pg_one_replica"] = result["concurrent"]
            start(replicas[1], rss, "ours-2")
            pids = [r.popen.pid for r in replicas]
            result["pg_two_replicas"] = run(concurrent(urls, OURS, args.concurrency, args.turns_each, "ours x2"), pids)
        finally:
            for process in (*replicas, actions):
                process.stop()
            for key in ("ours", "ours-2", "actions"):
                rss.forget(key)
            _delete_keys(redis_url, f"{prefix}*")
    result["peak_rss_mb"] = round(rss.peaks["ours"] / 2**20)
    result["peak_rss_second_replica_mb"] = round(rss.peaks.get("ours-2", 0) / 2**20)
    result["action_server_peak_rss_mb"] = round(rss.peaks["actions"] / 2**20)
    return result


def _delete_keys(redis_url: str, pattern: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(pattern):
            client.delete(key)
    finally:
        client.close()


def run(coroutine, rasa_pids: list[int] = ()):
    """Run a measurement; with pids, also how busy the machine and those Rasa processes were."""
    processes = [psutil.Process(pid) for pid in rasa_pids]
    before = [sum(p.cpu_times()[:2]) for p in processes]
    machine = psutil.cpu_times()
    started = time.monotonic()
    load = asyncio.run(coroutine)
    result = {**load.stats(), "latencies_ms": [round(1000 * x, 2) for x in load.latencies]}
    if processes:
        wall = time.monotonic() - started
        after = psutil.cpu_times()
        busy = sum(after) - sum(machine)
        result["cpu"] = {"machine_busy_pct": round(100 * (1 - (after.idle - machine.idle) / busy), 1) if busy else None,
                         "rasa_cores_used": [round((sum(p.cpu_times()[:2]) - b) / wall, 2)
                                             for p, b in zip(processes, before, strict=True)]}
    return result


def verdict(kind: str, op: str, limit: float, value: float | None) -> str:
    if value is None:
        return "n/a"
    return "ok" if (value <= limit if op == "<=" else value >= limit) else "MISSED"


def compare(bare: dict, ours: dict, training: dict | None) -> list[dict]:
    def ratio(a, b):
        return round(a / b, 2) if a is not None and b else None

    speedup = lambda r: ratio(r["pg_two_replicas"]["throughput_tps"], r["pg_one_replica"]["throughput_tps"])  # noqa: E731
    rows = []
    for label, key in (("turn p50 (ms)", "p50_ms"), ("turn p95 (ms)", "p95_ms"), ("turn p99 (ms)", "p99_ms")):
        b, o = bare["sequential"][key], ours["sequential"][key]
        rows.append({"metric": label, "bare": b, "ours": o, "ratio": ratio(o, b),
                     "target": "<= 1.3x" if key == "p95_ms" else "", "id": "turn_p95" if key == "p95_ms" else None})
    bc, oc = bare["concurrent"], ours["concurrent"]
    rows += [
        {"metric": "throughput @50 (turns/s)", "bare": bc["throughput_tps"], "ours": oc["throughput_tps"],
         "ratio": ratio(oc["throughput_tps"], bc["throughput_tps"]), "target": ">= 0.8x", "id": "throughput"},
        {"metric": "errors @50", "bare": bc["errors"], "ours": oc["errors"], "ratio": None, "target": "0",
         "id": "errors"},
        {"metric": "turn p95 @50 (ms)", "bare": bc["p95_ms"], "ours": oc["p95_ms"], "ratio": ratio(oc["p95_ms"], bc["p95_ms"]),
         "target": "", "id": None},
        {"metric": "2 replicas / 1 (throughput)", "bare": speedup(bare), "ours": speedup(ours), "ratio": None,
         "target": ">= 1.7", "id": "replica_speedup"},
        {"metric": "peak RSS, Rasa (MB)", "bare": bare["peak_rss_mb"], "ours": ours["peak_rss_mb"],
         "ratio": ratio(ours["peak_rss_mb"], bare["peak_rss_mb"]), "target": "<= 1.1x", "id": "peak_rss"},
        {"metric": "start to first answer (s)", "bare": bare["ready_s"], "ours": ours["ready_s"],
         "ratio": ratio(ours["ready_s"], bare["ready_s"]), "target": "<= 30 s", "id": "ready_s"},
    ]
    if training:
        rows.append({"metric": "full training (s)", "bare": training["bare_s"], "ours": training["ours_s"],
                     "ratio": ratio(training["ours_s"], training["bare_s"]), "target": "<= 300 s", "id": "training_s"})
    for row in rows:
        if row["id"]:
            kind, op, limit = TARGETS[row["id"]]
            value = row["ratio"] if kind == "ratio" else row["ours"]
            row["verdict"] = verdict(kind, op, limit, value)
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"\n{'metric':<30}{'bare':>10}{'ours':>10}{'ours/bare':>11}  {'target':<9}{'':>7}")
    for row in rows:
        cells = ["" if row[k] is None else row[k] for k in ("bare", "ours", "ratio")]
        print(f"{row['metric']:<30}{cells[0]!s:>10}{cells[1]!s:>10}{cells[2]!s:>11}  {row['target']:<9}"
              f"{row.get('verdict', ''):>7}")


def plot(bare: dict, ours: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, data in (("bare (in-memory)", bare["sequential"]), ("bare (PostgreSQL+Redis)", bare["pg_sequential"]),
                        ("ours (PostgreSQL+Redis)", ours["sequential"])):
        values = sorted(data["latencies_ms"])
        left.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=label)
    left.set_xscale("log")
    left.set_xlabel("turn latency (ms, log)")
    left.set_ylabel("fraction of turns")
    left.set_title("Sequential turns (CDF)")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    series = [("bare\n@50", bare["concurrent"]), ("bare PG\n2 replicas", bare["pg_two_replicas"]),
              ("ours\n@50", ours["concurrent"]), ("ours\n2 replicas", ours["pg_two_replicas"])]
    right.boxplot([s["latencies_ms"] or [0] for _, s in series], labels=[name for name, _ in series],
                  showfliers=False, whis=(5, 95))
    right.set_yscale("log")
    right.set_ylabel("turn latency (ms, log; whiskers p5-p95)")
    right.set_title("50 concurrent conversations")
    right.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=500, help="sequential turns per bot (default 500)")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent conversations (default 50)")
    parser.add_argument("--turns-each", type=int, default=10, help="turns per concurrent patient (default 10)")
    parser.add_argument("--redis-url", default=os.environ.get("CLINIC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"))
    parser.add_argument("--no-training", action="store_true", help="skip the two full trainings")
    parser.add_argument("--profile", action="store_true", help="py-spy our Rasa and action server")
    args = parser.parse_args()
    if not MODEL.exists():
        print(f"{MODEL} is missing: run `make train`", file=sys.stderr)
        return 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    load_start = show_load("at start")
    log(f"{args.turns} sequential turns per bot, {args.concurrency} concurrent conversations x "
        f">= {args.turns_each} turns; TensorFlow threads per Rasa process: intra 1, inter 1")
    rss = PeakRss()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-rasa-logs-"))
    try:
        bare = measure_bare(args, rss, log_dir, args.redis_url)
        ours = measure_ours(args, rss, log_dir, args.redis_url)
    finally:
        rss.stop()
    training = None if args.no_training else training_times()
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
        print(f"{name} on PostgreSQL + Redis: machine CPU busy {one.get('machine_busy_pct')}% with one replica "
              f"(cores used by Rasa {one.get('rasa_cores_used')}), {two.get('machine_busy_pct')}% with two "
              f"({two.get('rasa_cores_used')})")
    if ours.get("profile"):
        for name, summary in ours["profile"].items():
            print(f"\nprofile of our {name} during the sequential run: {summary.get('samples')} samples; "
                  f"self time by package (%): {summary.get('self_pct_by_package')}")
            print("  most often on the stack (% of samples):")
            for frame, pct in list((summary.get("inclusive_pct") or {}).items())[:15]:
                print(f"  {pct:5.1f}%  {frame}")

    results = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                           "load_average_start": load_start, "load_average_end": load_end},
               "settings": {**vars(args), "tf_threads": THREADS}, "bare": bare, "ours": ours,
               "training": training, "comparison": rows}
    (RESULTS / "rasa_latency.json").write_text(json.dumps(results, indent=1))
    plot(bare, ours, RESULTS / "rasa_latency.png")
    log(f"wrote {(RESULTS / 'rasa_latency.json').relative_to(ROOT)} and {(RESULTS / 'rasa_latency.png').relative_to(ROOT)}; "
        f"Rasa logs in {log_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
