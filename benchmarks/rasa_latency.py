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
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
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

from clinic.settings import ToolSettings  # noqa: E402
from testing.deployment import local_environment  # noqa: E402
from testing.servers import MODEL, REST_HEADERS, Process, action_server, base_env, free_port, rasa_server  # noqa: E402
from testing.synthetic import temporary_database  # noqa: E402

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
                                headers=REST_HEADERS,
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


@dataclass
class Bot:
    """A configuration under test: its conversations, and its Rasa replicas (URL, pid)."""
    name: str
    scenarios: list
    replicas: list[Process] = field(default_factory=list)
    helpers: list[Process] = field(default_factory=list)  # the action server: its CPU is reported too

    @property
    def urls(self) -> list[str]:
        return [r.health_url.rstrip("/") for r in self.replicas]

    @property
    def pids(self) -> list[int]:
        return [r.popen.pid for r in self.replicas]


async def sequential(bots: list[Bot], turns: int) -> dict[str, Load]:
    """Conversations of each bot interleaved, the one with fewest turns so far going next (so
    outside load hits them alike), until each has sent `turns` turns; one warm-up round first."""
    loads = {bot.name: Load() for bot in bots}

    def sent(bot: Bot) -> int:
        return len(loads[bot.name].latencies) + sum(loads[bot.name].errors.values())

    async with aiohttp.ClientSession() as session:
        for bot in bots:
            for _, steps in bot.scenarios:
                await conversation(session, bot.urls[0], steps, Load(), bot.name + "-warm")
        started, shown = Counter(), 0
        while min(map(sent, bots)) < turns:
            bot = min(bots, key=sent)
            steps = bot.scenarios[started[bot.name] % len(bot.scenarios)][1]
            started[bot.name] += 1
            await conversation(session, bot.urls[0], steps, loads[bot.name], bot.name)
            if min(map(sent, bots)) - shown >= 100:
                shown = min(map(sent, bots))
                log("  sequential: " + ", ".join(f"{b.name} {sent(b)} turns (p95 {loads[b.name].stats()['p95_ms']} ms)"
                                                  for b in bots))
    return loads


async def concurrent(urls: list[str], scenarios: list, clients: int, turns_each: int, tag: str) -> Load:
    """`clients` patients at once, each on one replica (as nginx's ip_hash does), each running
    conversations back to back until it has sent `turns_each` turns."""
    load = Load()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def patient(index: int) -> None:
            # Every replica gets every kind of conversation.
            done, n = 0, index // len(urls)
            while done < turns_each:
                done += await conversation(session, urls[index % len(urls)], scenarios[n % len(scenarios)][1], load, tag)
                n += 1

        started = time.perf_counter()
        await asyncio.gather(*(patient(i) for i in range(clients)))
        load.wall_s = time.perf_counter() - started
    return load


@dataclass
class Cpu:
    """CPU used during runs: the machine's busy share and each watched Rasa process's cores."""
    wall: float = 0.0
    machine_busy: float = 0.0
    machine_total: float = 0.0
    processes: list[float] = field(default_factory=list)

    def summary(self, replicas: int) -> dict:
        cores = [round(seconds / self.wall, 2) for seconds in self.processes] if self.wall else []
        return {"machine_busy_pct": round(100 * self.machine_busy / self.machine_total, 1) if self.machine_total else None,
                "rasa_cores_used": cores[:replicas], "action_server_cores_used": cores[replicas:]}


def measured(coroutine, pids: list[int], cpu: Cpu) -> Load:
    processes = [psutil.Process(pid) for pid in pids]
    before, machine = [sum(p.cpu_times()[:2]) for p in processes], psutil.cpu_times()
    started = time.monotonic()
    load = asyncio.run(coroutine)
    after = psutil.cpu_times()
    cpu.wall += time.monotonic() - started
    cpu.machine_total += sum(after) - sum(machine)
    cpu.machine_busy += (sum(after) - sum(machine)) - (after.idle - machine.idle)
    used = [sum(p.cpu_times()[:2]) - b for p, b in zip(processes, before, strict=True)]
    cpu.processes = [a + b for a, b in zip(cpu.processes or [0.0] * len(used), used, strict=True)]
    return load


def merge(total: Load, part: Load) -> None:
    total.latencies += part.latencies
    total.errors.update(part.errors)
    total.no_outcome += part.no_outcome
    total.degraded += part.degraded
    total.wall_s += part.wall_s


def concurrent_rounds(runs: list[tuple[str, Bot, int]], args) -> dict[str, dict]:
    """Each run (name, bot, replicas used) `args.rounds` times, in alternating order (ABBA), so a
    change in outside load between runs does not favour one of them."""
    loads, cpus = {name: Load() for name, _, _ in runs}, {name: Cpu() for name, _, _ in runs}
    for round_index in range(args.rounds):
        for name, bot, replicas in (runs if round_index % 2 == 0 else runs[::-1]):
            part = measured(concurrent(bot.urls[:replicas], bot.scenarios, args.concurrency, args.turns_each, name),
                            bot.pids[:replicas] + [h.popen.pid for h in bot.helpers], cpus[name])
            merge(loads[name], part)
            log(f"  round {round_index + 1}/{args.rounds} {name}: {part.stats()['throughput_tps']} turns/s, "
                f"p95 {part.stats()['p95_ms']} ms, {sum(part.errors.values())} errors")
    replicas = {name: n for name, _, n in runs}
    return {name: {**with_latencies(loads[name]), "cpu": cpus[name].summary(replicas[name])} for name in loads}


def with_latencies(load: Load) -> dict:
    return {**load.stats(), "latencies_ms": [round(1000 * x, 2) for x in load.latencies]}


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
            request = urllib.request.Request(f"{url}/webhooks/rest/webhook", body,
                                             {"Content-Type": "application/json", **REST_HEADERS})
            with urllib.request.urlopen(request, timeout=30) as response:
                if response.status == 200 and json.loads(response.read()):
                    return time.monotonic() - process.started
        except (OSError, urllib.error.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} gave no answer within {timeout:.0f} s")


def start(process: Process, rss: PeakRss, key: str, ready_message: str | None = None,
          wait: bool = True) -> float | None:
    process.started = time.monotonic()
    process.start()
    rss.watch(key, process.popen.pid)
    if ready_message is not None:
        return first_answer(process.health_url.rstrip("/"), process, ready_message)
    if wait:
        process.wait_ready()
    return None


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

    def __init__(self, targets: dict[str, int], out_dir: Path, prefix: str) -> None:
        self.children = {}
        for name, pid in targets.items():
            out = out_dir / f"{prefix}_profile_{name}.txt"
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
ENTRY_FRAMES = ("handle_message (rasa/core/agent.py", "run (rasa_sdk/executor.py")


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
    # Frames below the request handler (Rasa's agent, the SDK's executor), not the server loop.
    entry = max((n for f, n in inclusive.items() if f.startswith(ENTRY_FRAMES)), default=total)
    busy = [(f, n) for f, n in inclusive.most_common() if n < entry or f.startswith(ENTRY_FRAMES)]
    return {"samples": total, "self_pct_by_package": {k: share(v) for k, v in self_time.most_common(12)},
            "inclusive_pct": {f: share(n) for f, n in busy[:25]},
            "ours_inclusive_pct": {f: share(n) for f, n in [x for x in busy if _package(x[0]) in OUR_PACKAGES][:12]},
            "raw": str(path.relative_to(ROOT))}


# --- training -------------------------------------------------------------------------------------

def timed(command: list[str], cwd: Path, env: dict, label: str, log_path: Path) -> float:
    log(f"training {label}: {' '.join(command[1:3])} ...")
    started = time.monotonic()
    # Output to a file: Rasa's progress bars would fill a pipe and stall the training.
    with open(log_path, "wb") as output:
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
        next_report = 30
        while child.poll() is None:
            time.sleep(1)
            if time.monotonic() - started >= next_report:
                log(f"  {label}: {next_report} s")
                next_report += 30
    if child.returncode:
        raise RuntimeError(f"{label} failed (exit {child.returncode}); see {log_path}")
    return time.monotonic() - started


def training_times(log_dir: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        tmp = Path(tmp)
        # A fresh cache each: --force retrains every component anyway; nothing shared with `make train`.
        env = base_env(RASA_CACHE_DIRECTORY=str(tmp / "cache"))
        bare = timed([str(BIN / "rasa"), "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
                      "--out", str(tmp / "bare"), "--force"], BARE_DIR, env, "bare", log_dir / "train-bare.log")
        spacy = timed([sys.executable, "-c", "import sys; from pathlib import Path; "
                       "from knowledge.nlp.pipeline import save_pipeline; save_pipeline(Path(sys.argv[1]))",
                       str(tmp / "spacy")], ROOT, env, "ours: spaCy pipeline", log_dir / "train-spacy.log")
        rasa = timed([str(BIN / "rasa"), "train", "--config", "bot/config.yml", "--domain", "bot/domain", "--data",
                      "nlu_data", "--out", str(tmp / "ours"), "--fixed-model-name", "triage", "--force"],
                     ROOT, env, "ours: rasa train", log_dir / "train-ours.log")
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
            _delete_keys(args.redis_url, f"{limit_prefix}*")
            _delete_keys(args.redis_url, f"{lock_prefix}:*")
    mb = lambda key: round(rss.peaks.get(key, 0) / 2**20)  # noqa: E731
    bare.update(peak_rss_mb=mb("bare"), peak_rss_pg_replicas_mb=[mb("bare-pg-1"), mb("bare-pg-2")])
    ours.update(peak_rss_mb=mb("ours"), peak_rss_second_replica_mb=mb("ours-2"), action_server_peak_rss_mb=mb("actions"))
    return bare, ours


def _delete_keys(redis_url: str, pattern: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(pattern):
            client.delete(key)
    finally:
        client.close()


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


def plot(bare: dict, ours: dict, clients: int, path: Path) -> None:
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
    series = [("bare", bare["concurrent"]), ("bare PG\n1 replica", bare["pg_one_replica"]),
              ("bare PG\n2 replicas", bare["pg_two_replicas"]), ("ours\n1 replica", ours["concurrent"]),
              ("ours\n2 replicas", ours["pg_two_replicas"])]
    right.boxplot([s["latencies_ms"] or [0] for _, s in series], labels=[name for name, _ in series],
                  showfliers=False, whis=(5, 95))
    right.set_yscale("log")
    right.set_ylabel("turn latency (ms, log; whiskers p5-p95)")
    right.set_title(f"{clients} concurrent conversations")
    right.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
