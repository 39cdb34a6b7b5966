"""Start the action server, the Rasa server and the web app; stop them all on Ctrl-C.

Run by `make run` from the repo root. Prints each service's URL once it answers.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
READY_TIMEOUT_SECONDS = 180


def services(env: dict[str, str]) -> list[tuple[str, list[str], str]]:
    rasa_port, actions_port = env.get("CLINIC_RASA_PORT", "5005"), env.get("CLINIC_ACTIONS_PORT", "5055")
    web_origin = f"http://localhost:{env.get('CLINIC_WEB_PORT', '8000')}"
    rasa = [str(BIN / "python"), "-m", "bot.rasa_main", "run", "--model", "models/triage.tar.gz", "--endpoints", "bot/endpoints.yml",
            "--credentials", "var/credentials.yml", "--port", rasa_port,
            "--cors", env.get("CLINIC_CORS_ORIGIN", web_origin)]
    if env.get("RASA_API_TOKEN"):
        rasa.append("--enable-api")  # bot.rasa_main adds the token, out of sight of `ps`
    return [
        ("action server", [str(BIN / "python"), "-m", "actions.server", "--actions", "actions", "--port", actions_port],
         f"http://localhost:{actions_port}/health"),
        ("Rasa", rasa, f"http://localhost:{rasa_port}/"),
        ("web app", [str(BIN / "python"), "-m", "webapp.wsgi"], f"{web_origin}/"),
    ]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except OSError:
        return False


def main() -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false")
    env.setdefault("CLINIC_ACTION_SERVER_URL", "http://localhost:5055/webhook")
    env.setdefault("CLINIC_ACTION_SERVER_TOKEN", "")
    children: list[tuple[str, subprocess.Popen]] = []

    def stop(*_: object) -> None:
        for _, child in children:
            if child.poll() is None:
                child.terminate()
        for _, child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        for name, command, url in services(env):
            print(f"starting the {name} ...", flush=True)
            children.append((name, subprocess.Popen(command, cwd=ROOT, env=env)))
            deadline = time.monotonic() + READY_TIMEOUT_SECONDS
            while not answers(url):
                if children[-1][1].poll() is not None:
                    print(f"the {name} stopped during start-up (exit {children[-1][1].returncode})", file=sys.stderr)
                    stop()
                    return 1
                if time.monotonic() > deadline:
                    print(f"the {name} did not answer at {url}", file=sys.stderr)
                    stop()
                    return 1
                time.sleep(1)
        rasa_port, web_port = env.get("CLINIC_RASA_PORT", "5005"), env.get("CLINIC_WEB_PORT", "8000")
        print(f"\nready on http://localhost:{rasa_port}\n"
              f"  clinic page with the chat widget: http://localhost:{web_port}/\n"
              f"  staff console: http://localhost:{web_port}/staff/ (create a user: "
              f".venv/bin/python -m storage.cli create-admin --email you@example.org)\n"
              f"  chat in a terminal: make shell (in another terminal)\n"
              f"Ctrl-C stops everything.", flush=True)
        while all(child.poll() is None for _, child in children):
            time.sleep(1)
        name = next(name for name, child in children if child.poll() is not None)
        print(f"the {name} stopped; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
