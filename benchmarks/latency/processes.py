"""The Rasa processes under test: starting them (the clock for the first answer, the peak memory
of each process tree) and the bare bot Rasa's starter makes, on its defaults or on PostgreSQL +
Redis."""
from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import psutil

from benchmarks.latency import BARE_DIR, BENCH_DIR, BIN, ROOT, log
from testing.servers import REST_HEADERS, Process, base_env, free_port


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


def delete_keys(redis_url: str, pattern: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(pattern):
            client.delete(key)
    finally:
        client.close()
