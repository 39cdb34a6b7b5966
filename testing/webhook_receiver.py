"""A clinic's webhook receiver on 127.0.0.1, for the outbox tests and `make bench-outbox`.

It checks each message's signature, keeps every receipt (with the time it arrived) and counts a
message once per idempotency key, as a clinic's system should. `stop()` closes the listening
socket (posts are then refused, like a receiver that is down) and `start()` opens it again on the
same port.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from storage.fhir_export import CONVERSATION_REF, MESSAGE_KIND, SEQUENCE


@dataclass(frozen=True)
class Receipt:
    key: str
    kind: str
    sequence: int
    conversation: str
    body_sha256: str
    signed: bool
    at: float


def message_fields(body: dict) -> tuple[str, str, int, str]:
    """(idempotency key, kind, sequence, conversation pseudonym) of a posted message, in either
    format (FHIR Bundle or the project's JSON)."""
    if body.get("resourceType") == "Bundle":
        tags = {tag["system"]: tag["code"] for tag in body["meta"]["tag"]}
        patient = next(entry["resource"] for entry in body["entry"]
                       if entry["resource"]["resourceType"] == "Patient")
        ref = next(i["value"] for i in patient["identifier"] if i["system"] == CONVERSATION_REF)
        return body["identifier"]["value"], tags[MESSAGE_KIND], int(tags[SEQUENCE]), ref
    return body["idempotency_key"], body["kind"], int(body["sequence"]), body["conversation"]["ref"]


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    expected = hmac.new(secret.encode(), fields.get("t", "").encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


class Receiver:
    def __init__(self, secret: str, *, port: int = 0, delay_seconds: float = 0.0):
        self.secret, self.delay_seconds = secret, delay_seconds
        self.receipts: list[Receipt] = []
        self.bodies: dict[str, bytes] = {}
        self.signatures: dict[str, str] = {}     # the first signature header of each key
        self.status = 200           # what it answers (set 503 to refuse, 400 to reject)
        self.keep_bodies = True
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                status = receiver.receive(body, self.headers.get("X-Clinic-Signature", ""))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def receive(self, body: bytes, signature_header: str) -> int:
        signed = signature_valid(self.secret, body, signature_header)
        if self.status >= 300 or not signed:
            return self.status if self.status >= 300 else 401
        key, kind, sequence, ref = message_fields(json.loads(body))
        receipt = Receipt(key, kind, sequence, ref, hashlib.sha256(body).hexdigest(), signed,
                          time.time())
        with self._lock:
            self.receipts.append(receipt)
            if self.keep_bodies:
                self.bodies.setdefault(key, body)
                self.signatures.setdefault(key, signature_header)
        return 200

    def accepted(self) -> dict[str, Receipt]:
        """The first receipt of each idempotency key: what a deduplicating clinic keeps."""
        first: dict[str, Receipt] = {}
        with self._lock:
            for receipt in self.receipts:
                first.setdefault(receipt.key, receipt)
        return first


def main() -> None:
    """`python -m testing.webhook_receiver --secret S --port P --out FILE`: a receiver in its own
    process (a benchmark's own threads would slow it); on SIGTERM it writes its receipts to FILE,
    one JSON object a line."""
    import argparse
    import signal
    from dataclasses import asdict

    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    receiver = Receiver(args.secret, port=args.port)
    receiver.keep_bodies = False
    receiver.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print("listening", flush=True)
    stopped.wait()
    receiver.stop()
    with open(args.out, "w", encoding="utf-8") as out:
        for receipt in receiver.receipts:
            out.write(json.dumps(asdict(receipt)) + "\n")


if __name__ == "__main__":
    main()
