"""`make run` (scripts/serve.py): every server listens on 127.0.0.1 unless told otherwise."""
from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from clinic.settings import Settings
from testing.deployment import ROOT

spec = importlib.util.spec_from_file_location("serve", ROOT / "scripts" / "serve.py")
serve = importlib.util.module_from_spec(spec)
spec.loader.exec_module(serve)


def listening_on(settings: Settings) -> dict[str, str]:
    return {name: host for name, _command, host, _url in serve.services(settings)}


def test_every_server_of_make_run_listens_on_the_loopback_address_by_default():
    from rasa.__main__ import create_argument_parser

    settings = Settings()
    assert listening_on(settings) == {"action server": "127.0.0.1", "Rasa": "127.0.0.1",
                                      "web app": "127.0.0.1"}
    rasa = next(command for name, command, _, _ in serve.services(settings) if name == "Rasa")
    args = create_argument_parser().parse_args(rasa[rasa.index("run"):])
    assert args.interface == "127.0.0.1", "Rasa's own default is every interface"


def test_the_webhook_worker_runs_only_when_a_webhook_url_is_set_and_the_projector_always():
    modules = lambda settings: [command[2] for _, command in serve.workers(settings)]  # noqa: E731
    assert modules(Settings(webhook_url="")) == ["storage.projector_worker"]
    assert modules(Settings(webhook_url="https://records.clinic.example/hook")) == [
        "storage.projector_worker", "storage.outbox_worker"]


def test_each_server_can_be_told_to_listen_elsewhere():
    settings = Settings(rasa_host="0.0.0.0", web_host="0.0.0.0", sanic_host="0.0.0.0")
    assert set(listening_on(settings).values()) == {"0.0.0.0"}
    assert all(url.startswith("http://127.0.0.1:") for *_, url in serve.services(settings))


def other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))     # no packet is sent: only picks a route
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_the_web_app_as_make_run_starts_it_answers_on_loopback_only(tmp_path):
    address = other_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLINIC_")}
    env.update(PYTHONPATH=str(ROOT), CLINIC_VAR_DIR=str(tmp_path), CLINIC_WEB_PORT=str(port),
               CLINIC_DATABASE_URL=f"sqlite:///{tmp_path / 'clinic.db'}")
    [(_, command, _, url)] = [s for s in serve.services(Settings(web_port=port)) if s[0] == "web app"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not serve.answers(url):
            assert server.poll() is None and time.monotonic() < deadline, "the web app did not start"
            time.sleep(0.5)
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://{address}:{port}/", timeout=2)
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.mark.slow
def test_the_projector_worker_make_run_starts_keeps_the_console_current_on_sqlite(tmp_path):
    """No server at all: the worker polls the SQLite events table Rasa writes."""
    from sqlalchemy import select

    from storage.db import dispose_engine, get_engine, session_factory
    from storage.migrate import upgrade
    from storage.models import Conversation
    from testing import synthetic

    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    upgrade(url)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLINIC_")}
    env.update(PYTHONPATH=str(ROOT), CLINIC_VAR_DIR=str(tmp_path), CLINIC_DATABASE_URL=url)
    [(name, command)] = serve.workers(Settings(webhook_url=""))
    worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        engine = get_engine(url)
        synthetic.store_events(engine, "local-1", synthetic.calf_cramp_conversation(
            time.time(), first_message="my calves cramp when I swim"))
        deadline = time.monotonic() + 90      # start-up included
        while True:
            with session_factory(engine)() as session:
                shown = session.execute(select(Conversation.preview, Conversation.max_level)).all()
            if shown == [("my calves cramp when I swim", "self_care")]:
                break
            assert worker.poll() is None and time.monotonic() < deadline, f"the {name} showed {shown}"
            time.sleep(0.2)
    finally:
        worker.terminate()
        assert worker.wait(timeout=20) == 0
        dispose_engine(url)
