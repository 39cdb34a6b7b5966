"""Full training time of each bot, from scratch."""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.latency import BARE_DIR, BIN, ROOT, log
from testing.servers import base_env


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
