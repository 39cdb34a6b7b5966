"""The parts of the Rasa latency benchmark (benchmarks/rasa_latency.py): the conversations and
the load they make, the processes under test, profiling, training times and the report."""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BENCH_DIR = ROOT / "build" / "bench"
BARE_DIR = BENCH_DIR / "bare"
RESULTS = ROOT / "results" / "bench"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)
