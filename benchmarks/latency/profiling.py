"""py-spy samples of running processes, and where their time went."""
from __future__ import annotations

import signal
import subprocess
from collections import Counter
from pathlib import Path

from benchmarks.latency import BIN, ROOT


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
