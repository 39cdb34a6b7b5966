"""Start the action server, the Rasa server, the web app and the projector worker; stop them all
on Ctrl-C.

Run by `make run` from the repo root. Prints each service's URL once it answers.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clinic.settings import Settings, child_environment, environment, get_settings  # noqa: E402

BIN = Path(sys.executable).parent
READY_TIMEOUT_SECONDS = 180


def local_url(host: str, port: int) -> str:
    """Where this machine reaches a server listening on `host`."""
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"


def services(settings: Settings) -> list[tuple[str, list[str], str, str]]:
    """(name, command, address it listens on, URL that answers once it is up). Every server
    listens on 127.0.0.1 unless CLINIC_RASA_HOST, SANIC_HOST or CLINIC_WEB_HOST says otherwise
    (Rasa's own default would be every interface)."""
    web_origin = f"http://localhost:{settings.web_port}"
    rasa = [str(BIN / "python"), "-m", "bot.rasa_main", "run", "--model", "models/triage.tar.gz",
            "--endpoints", "bot/endpoints.yml", "--credentials", "var/credentials.yml",
            "--interface", settings.rasa_host, "--port", str(settings.rasa_port),
            "--cors", settings.cors_origin or web_origin]
    if environment().get("RASA_API_TOKEN"):
        rasa.append("--enable-api")  # bot.rasa_main adds the token, out of sight of `ps`
    return [
        ("action server", [str(BIN / "python"), "-m", "actions.server", "--actions", "actions",
                           "--port", str(settings.actions_port)],
         settings.sanic_host, local_url(settings.sanic_host, settings.actions_port) + "/health"),
        ("Rasa", rasa, settings.rasa_host, local_url(settings.rasa_host, settings.rasa_port) + "/"),
        ("web app", [str(BIN / "python"), "-m", "webapp.wsgi"], settings.web_host,
         local_url(settings.web_host, settings.web_port) + "/"),
    ]


def workers(settings: Settings) -> list[tuple[str, list[str]]]:
    """(name, command) of the processes that serve no URL: the projector worker keeps the staff
    console current (without RabbitMQ it polls the events table); the webhook worker only when
    CLINIC_WEBHOOK_URL is set (docs/webhook.md)."""
    found = [("projector worker", [str(BIN / "python"), "-m", "storage.projector_worker"])]
    if settings.webhook_url:
        found.append(("webhook worker", [str(BIN / "python"), "-m", "storage.outbox_worker"]))
    return found


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except OSError:
        return False


def main() -> int:
    settings = get_settings()
    env = child_environment(PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false")
    env.setdefault("CLINIC_ACTION_SERVER_URL",
                   local_url(settings.sanic_host, settings.actions_port) + "/webhook")
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
        for name, command, host, url in services(settings):
            print(f"starting the {name} (listening on {host}) ...", flush=True)
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
        for name, command in workers(settings):
            print(f"starting the {name} ...", flush=True)
            children.append((name, subprocess.Popen(command, cwd=ROOT, env=env)))
        rasa_port, web_port = settings.rasa_port, settings.web_port
        print(f"\nready on http://localhost:{rasa_port}\n"
              f"  clinic page with the chat widget: http://localhost:{web_port}/\n"
              f"  staff console: http://localhost:{web_port}/staff/ (create a user: "
              f".venv/bin/python -m storage.cli create-admin --email you@example.org)\n"
              f"  chat in a terminal: make shell (in another terminal)\n"
              + ("  outcomes and callback requests are posted to CLINIC_WEBHOOK_URL\n"
                 if settings.webhook_url else "") +
              "Ctrl-C stops everything.", flush=True)
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
