"""The conversations each bot is sent, and the load they make: sequential turns interleaved
between the bots, concurrent patients, and the CPU used meanwhile."""
from __future__ import annotations

import asyncio
import re
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import psutil

from benchmarks.latency import log
from testing.servers import REST_HEADERS, Process

REQUEST_TIMEOUT = 60


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
