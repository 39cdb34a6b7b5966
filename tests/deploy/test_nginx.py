"""nginx: patients' channels to Rasa (sticky), the site and console to the web app, nothing else.

The static tests read the files docker-compose.yml mounts. The live test runs this machine's
nginx (skipped without one; Debian's `nginx-light` is enough) on the same files, with only the
upstream addresses and file locations changed, in front of fake backends.
"""
from __future__ import annotations

import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from testing.deployment import (
    ROOT,
    TLS_OVERRIDE,
    compose,
    filled_env,
    healthcheck_words,
    interpolate_tree,
    load_yaml,
)
from tests.deploy import nginx_conf

RASA_API = ["/model", "/model/parse", "/model/train", "/conversations/abc/tracker", "/conversations/abc/messages",
            "/status", "/version", "/domain", "/"]
ACTION_SERVER = ["/webhook", "/health", "/actions"]
WEB = ["/", "/staff/", "/staff/login", "/assets/widget.js", "/assets/vendor/socket.io.min.js"]
CHANNELS = ["/socket.io/", "/webhooks/rest/webhook", "/webhooks/telegram/webhook", "/webhooks/twilio/webhook"]


def _mounts(nginx_service: dict) -> dict[str, Path]:
    mounts = {}
    for volume in nginx_service["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = ROOT / source
    return mounts


def _compose_with_tls() -> dict:
    base = compose()
    override = interpolate_tree(load_yaml(TLS_OVERRIDE), dict(filled_env(), CLINIC_TLS_CERT_DIR="/certs"))
    nginx = dict(base["services"]["nginx"])
    by_target = {v.split(":")[1]: v for v in nginx["volumes"]}
    by_target.update({v.split(":")[1]: v for v in override["services"]["nginx"]["volumes"]})
    nginx["volumes"] = list(by_target.values())  # compose merges volumes by target
    return {**base, "services": {**base["services"], "nginx": nginx}}


def _http(project: dict) -> nginx_conf.Directive:
    mounts = _mounts(project["services"]["nginx"])
    return nginx_conf.http_block(nginx_conf.load(mounts["/etc/nginx/nginx.conf"], mounts))


CONFIGS = {"http": compose, "https": _compose_with_tls}


@pytest.fixture(params=sorted(CONFIGS))
def project(request) -> dict:
    return CONFIGS[request.param]()


def _proxying_servers(http: nginx_conf.Directive) -> list[nginx_conf.Server]:
    found = [s for s in nginx_conf.servers(http) if any(nginx_conf.proxy_upstream(loc) for loc in s.locations)]
    assert found
    return found


def _service_of(http: nginx_conf.Directive, upstream: str | None, project: dict) -> set[tuple[str, int]]:
    """The compose services (and ports) an upstream name sends to."""
    if upstream is None:
        return set()
    block = nginx_conf.upstreams(http)[upstream]
    targets = set()
    for server in block.find("server"):
        host, port = server.args[0].rsplit(":", 1)
        assert host in project["services"], f"upstream {upstream} names no compose service: {host}"
        targets.add((host, int(port)))
    return targets


def test_patient_channels_go_to_rasa_with_sticky_sessions(project):
    http = _http(project)
    for server in _proxying_servers(http):
        for path in CHANNELS:
            location = server.route(path)
            upstream = nginx_conf.proxy_upstream(location)
            assert _service_of(http, upstream, project) == {("rasa", 5005)}, path
            block = nginx_conf.upstreams(http)[upstream]
            assert block.first("ip_hash") or block.first("hash") or block.first("sticky"), "not sticky"
            sent = nginx_conf.headers(location)
            # Rate limits count patients' addresses (Sanic's PROXIES_COUNT=1 takes the last one).
            assert sent["x-forwarded-for"] == "$proxy_add_x_forwarded_for"


def test_socketio_gets_the_websocket_upgrade(project):
    http = _http(project)
    upgrade_map = next(d for d in http.find("map") if d.args == ["$http_upgrade", "$connection_upgrade"])
    # An upgrade request keeps "upgrade"; any other closes ('' is the quoted empty value).
    assert {(d.name, *d.args) for d in upgrade_map.block} == {("default", "upgrade"), ("", "close")}
    for server in _proxying_servers(http):
        location = server.route("/socket.io/")
        assert location.first("proxy_http_version").args == ["1.1"]
        sent = nginx_conf.headers(location)
        assert sent["upgrade"] == "$http_upgrade" and sent["connection"] == "$connection_upgrade"


def test_the_site_and_staff_console_go_to_the_web_app(project):
    http = _http(project)
    for server in _proxying_servers(http):
        for path in WEB:
            upstream = nginx_conf.proxy_upstream(server.route(path))
            assert _service_of(http, upstream, project) == {("web", 8000)}, path
        # The web app builds links and Secure cookies from these (CLINIC_TRUSTED_PROXIES=1).
        sent = nginx_conf.headers(server.route("/staff/"))
        assert {"host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"} <= set(sent)


def test_rasas_http_api_and_the_action_server_are_not_routed(project):
    http = _http(project)
    for server in nginx_conf.servers(http):
        for path in RASA_API + ACTION_SERVER:
            location = server.route(path)
            targets = _service_of(http, nginx_conf.proxy_upstream(location), project) if location else set()
            assert not {host for host, _ in targets} & {"rasa", "actions"}, path
    every_target = {t for name in nginx_conf.upstreams(http) for t in _service_of(http, name, project)}
    assert every_target == {("rasa", 5005), ("web", 8000)}


def test_the_health_check_path_is_answered_by_nginx_itself(project):
    path = healthcheck_words(project["services"]["nginx"])[-1].split("127.0.0.1", 1)[1]
    for server in nginx_conf.servers(_http(project)):
        location = server.route(path)
        assert location.first("return").args[0] == "200"


def test_tls_serves_https_with_the_mounted_certificate_and_redirects_http():
    project = _compose_with_tls()
    servers = nginx_conf.servers(_http(project))
    tls = [s for s in servers if any("443" in args[0] and "ssl" in args for args in s.listen)]
    assert len(tls) == 1
    for name in ("ssl_certificate", "ssl_certificate_key"):
        assert tls[0].directive.first(name).args[0].startswith("/etc/nginx/certs/")
    plain = [s for s in servers if s is not tls[0]]
    assert [args[0] for s in plain for args in s.listen] == ["80"]
    assert plain[0].route("/staff/").first("return").args[:2] == ["301", "https://$host$request_uri"]


# --- the real nginx ------------------------------------------------------------------------------

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


class Backend(ThreadingHTTPServer):
    """Answers every request with its own name and records what it was sent."""

    def __init__(self, name: str) -> None:
        self.name, self.seen = name, []
        super().__init__(("127.0.0.1", 0), self.Handler)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            body = json.dumps({"backend": self.server.name}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_nginx(tmp_path):
    """nginx on the deployment's files; upstreams rasa (two replicas) and web are fake backends."""
    if NGINX is None:
        pytest.skip("no nginx binary on this machine (apt-get install nginx-light)")
    try:  # clients come from several loopback addresses (Linux routes all of 127/8)
        socket.create_server(("127.0.2.1", 0)).close()
    except OSError:
        pytest.skip("this machine has no 127.0.x.1 loopback addresses")
    backends = {"rasa-1": Backend("rasa-1"), "rasa-2": Backend("rasa-2"), "web": Backend("web")}
    for backend in backends.values():
        threading.Thread(target=backend.serve_forever, daemon=True).start()
    addresses = {("rasa", 5005): [f"127.0.0.1:{backends[n].server_address[1]}" for n in ("rasa-1", "rasa-2")],
                 ("web", 8000): [f"127.0.0.1:{backends['web'].server_address[1]}"]}
    port = _free_port()
    root = tmp_path / "root"
    (root / "log").mkdir(parents=True)

    def localise(text: str) -> str:
        # Only what cannot run here changes: compose's DNS names (and nginx 1.27's "resolve",
        # absent from older nginx), absolute paths, and the port.
        def upstream_server(match: re.Match) -> str:
            key = (match.group(1), int(match.group(2)))
            return " ".join(f"server {address};" for address in addresses[key])

        text = re.sub(r"server ([a-z-]+):(\d+)(?: resolve)?;", upstream_server, text)
        text = text.replace("/etc/nginx/", f"{root}/etc/nginx/").replace("/var/log/nginx/", f"{root}/log/")
        text = text.replace("/var/run/nginx.pid", f"{root}/nginx.pid")
        return re.sub(r"listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;", text)

    for target, source in _mounts(compose()["services"]["nginx"]).items():
        destination = root / target.lstrip("/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(localise(source.read_text()))
    mime_types = root / "etc/nginx/mime.types"
    if Path("/etc/nginx/mime.types").exists():
        shutil.copy("/etc/nginx/mime.types", mime_types)
    else:
        mime_types.write_text("types {}\n")
    conf = root / "etc/nginx/nginx.conf"
    command = [NGINX, "-p", str(root), "-c", str(conf), "-g", f"daemon off; error_log {root}/log/error.log;"]
    check = subprocess.run([*command[:-2], "-t", "-g", f"error_log {root}/log/error.log;"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.poll() is not None else "nginx did not start"
            time.sleep(0.1)
    try:
        yield port, backends
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for backend in backends.values():
            backend.shutdown()
            backend.server_close()


def _request(port: int, path: str, client_ip: str = "127.0.0.1", method: str = "GET",
             headers: dict | None = None, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(client_ip, 0))
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _backend(body: bytes) -> str:
    return json.loads(body)["backend"]


def test_live_nginx_routes_sticks_and_upgrades(live_nginx):
    port, backends = live_nginx
    # Each client (its own /24, as ip_hash keys on) stays on one Rasa replica for every request.
    chosen = {}
    for client in range(1, 17):
        ip = f"127.0.{client}.1"
        served = set()
        for _ in range(3):
            status, body = _request(port, "/socket.io/?EIO=4&transport=websocket", ip,
                                    headers={"Upgrade": "websocket", "Connection": "Upgrade"})
            assert status == 200
            served.add(_backend(body))
        status, body = _request(port, "/webhooks/rest/webhook", ip, "POST", {"Content-Type": "application/json"},
                                b'{"sender": "s", "message": "hi"}')
        served.add(_backend(body))
        assert len(served) == 1, f"client {ip} moved between replicas: {served}"
        chosen[ip] = served.pop()
    assert set(chosen.values()) == {"rasa-1", "rasa-2"}, "both replicas take clients"

    path, sent = next((p, h) for b in ("rasa-1", "rasa-2") for p, h in backends[b].seen if p.startswith("/socket.io/"))
    assert sent["upgrade"] == "websocket" and sent["connection"].lower() == "upgrade"
    assert "EIO=4" in path
    webhook = next(h for b in ("rasa-1", "rasa-2") for p, h in backends[b].seen if p.startswith("/webhooks/"))
    assert webhook["x-forwarded-for"].split(",")[-1].strip().startswith("127.0.")

    # The site and console go to the web app; Rasa's API and the action server's paths do too,
    # where they are simply not found, never to Rasa.
    rasa_requests = sum(len(backends[b].seen) for b in ("rasa-1", "rasa-2"))
    for path in WEB + RASA_API + ACTION_SERVER:
        status, body = _request(port, path, "127.0.9.1")
        assert status == 200 and _backend(body) == "web", path
    assert sum(len(backends[b].seen) for b in ("rasa-1", "rasa-2")) == rasa_requests
    forwarded = backends["web"].seen[-1][1]
    assert forwarded["x-forwarded-for"] == "127.0.9.1" and forwarded["x-forwarded-proto"] == "http"
    assert forwarded["x-forwarded-host"] == "127.0.0.1"

    status, body = _request(port, "/nginx-health")
    assert (status, body) == (200, b"ok\n")
