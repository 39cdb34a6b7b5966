"""Sending a case to a channel, signed as its platform signs (or unsigned, or forged), and the
problems its answer shows."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from typing import Any, Callable, Dict, List, Tuple
from urllib.parse import parse_qs

import requests

from bot.channels.rendering import FALLBACK_TEXT
from bot.channels.validation import InvalidPayload, valid_web_sender
from testing.fuzz.cases import Case
from testing.fuzz.stack import (
    FACEBOOK_SECRET,
    SANIC_MAX_BYTES,
    SLACK_SECRET,
    TELEGRAM_SECRET,
    TWILIO_TOKEN,
    TWILIO_WEBHOOK_URL,
)
from testing.servers import REST_HEADERS

REQUEST_TIMEOUT = 60


def starts_a_session(case: Case) -> bool:
    """A REST message that is Rasa's /session_start command (answered with nothing)."""
    try:
        sent = json.loads(case.body)
    except ValueError:
        return False
    message = sent.get("message") if isinstance(sent, dict) else None
    return isinstance(message, str) and message.strip().startswith("/session_start")


def classify_http(status: int, body: bytes, case: Case, channel: str) -> List[str]:
    problems = []
    if status >= 500:
        problems.append("5xx")
    if FALLBACK_TEXT.encode() in body:
        problems.append("fallback")
    if status == 400 and b"request could not be processed" in body:
        problems.append("unexpected_400")
    if case.over_limit and status != 413:
        problems.append("wrong_413")
    if case.sign == "none" and not case.over_limit and status != 401:
        problems.append("auth")
    if case.sign == "forged" and not case.over_limit and status != 403:
        problems.append("auth")
    if channel == "rest" and status in (200, 429) and not starts_a_session(case):
        try:
            messages = json.loads(body)
        except ValueError:
            messages = None
        if not isinstance(messages, list) or not messages or \
                not all(isinstance(m, dict) and (m.get("text") or "").strip() for m in messages):
            problems.append("silent")
        elif any((m.get("custom") or {}).get("degraded") for m in messages):
            problems.append("degraded")
    if channel == "rest" and case.expect_valid and status not in (200, 429):
        problems.append("silent")
    return problems


def post(url: str, case: Case, headers: Dict[str, str], session: requests.Session) -> Tuple[str, bytes, int]:
    try:
        response = session.post(url + (f"?{case.query}" if case.query else ""), data=case.body,
                                headers=headers, timeout=REQUEST_TIMEOUT)
        return str(response.status_code), response.content, response.status_code
    except requests.RequestException as error:
        return "conn_error", type(error).__name__.encode(), 0


def send_rest(base_url: str, case: Case, session: requests.Session) -> Tuple[str, List[str]]:
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    headers.update(REST_HEADERS)  # the cases name their senders
    label, body, status = post(f"{base_url}/webhooks/rest/webhook", case, headers, session)
    if label == "conn_error":
        # Sanic closes the connection on a body over SANIC_REQUEST_MAX_SIZE after its 413
        return label, ([] if len(case.body) > SANIC_MAX_BYTES else ["conn_error"])
    return label, classify_http(status, body, case, "rest")


def sign_headers(channel: str, case: Case, url: str) -> Dict[str, str]:
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    if case.sign == "none":
        return headers
    forged = case.sign == "forged"
    if channel == "telegram":
        headers["X-Telegram-Bot-Api-Secret-Token"] = "wrong-secret" if forged else TELEGRAM_SECRET
    elif channel == "slack":
        timestamp = str(int(time.time()))
        secret = b"not-the-secret" if forged else SLACK_SECRET.encode()
        digest = hmac.new(secret, f"v0:{timestamp}:".encode() + case.body, hashlib.sha256).hexdigest()
        headers.update({"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"})
    elif channel == "facebook":
        secret = b"not-the-secret" if forged else FACEBOOK_SECRET.encode()
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret, case.body, hashlib.sha256).hexdigest()
    elif channel == "twilio":
        from sanic.request import RequestParameters
        from twilio.request_validator import RequestValidator

        # signed over the fields as the channel parses them (bot/channels/twilio.py: twilio_form)
        params = RequestParameters(parse_qs(case.body.decode("utf-8", "replace"), keep_blank_values=True))
        validator = RequestValidator("not-the-token" if forged else TWILIO_TOKEN)
        headers["X-Twilio-Signature"] = validator.compute_signature(TWILIO_WEBHOOK_URL, params)
    return headers


def send_webhook(channel: str, base_url: str, case: Case, session: requests.Session) -> Tuple[str, List[str]]:
    url = f"{base_url}/webhooks/{channel}/webhook"
    label, body, status = post(url, case, sign_headers(channel, case, url), session)
    if label == "conn_error":
        return label, ([] if len(case.body) > SANIC_MAX_BYTES else ["conn_error"])
    return label, classify_http(status, body, case, channel)


def send_socketio(base_url: str, data: Any, case: Case, wait: float = 30.0) -> Tuple[str, List[str]]:
    """One connection per event, so each answer is attributed to its event."""
    import socketio

    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)  # "packet queue is empty" on 413-like closes

    events: List[Tuple[str, Any]] = []
    arrived = threading.Event()
    client = socketio.Client(reconnection=False)

    def on(name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            events.append((name, args[0] if args else None))
            arrived.set()
        return record

    for name in ("bot_uttered", "input_error"):
        client.on(name, handler=on(name))
    client.on("disconnect", handler=on("disconnected"))
    try:
        client.connect(base_url, transports=["websocket"], socketio_path="socket.io", wait_timeout=10)
    except Exception as error:  # noqa: BLE001  (counted, not raised)
        return f"connect_error:{type(error).__name__}", ["conn_error"]
    try:
        # A new conversation (the server makes its id); an event naming a well-formed id names
        # this one instead (a malformed one stays, to be refused as before).
        confirmed: List[Any] = []
        client.on("session_confirm", handler=confirmed.append)
        client.emit("session_request", {})
        deadline = time.monotonic() + 10
        while not confirmed and time.monotonic() < deadline:
            time.sleep(0.02)

        def ours(event: Any) -> Any:
            claimed = event.get("session_id") if isinstance(event, dict) else None
            try:
                valid_web_sender(claimed)
            except InvalidPayload:
                return event
            return {**event, "session_id": confirmed[0]["session_id"]} if confirmed else event

        data = (ours(data[0]), *data[1:]) if isinstance(data, tuple) and data else ours(data)
        client.emit("user_uttered", data)  # None: no argument; a tuple: several
        message = data.get("message") if isinstance(data, dict) else None
        arrived.wait(3 if isinstance(message, str) and message.strip().startswith("/session_start") else wait)
        if events and events[0][0] == "bot_uttered":
            time.sleep(0.05)  # the rest of the turn's messages
        events = list(events)  # before our own disconnect adds its event
    finally:
        try:
            client.disconnect()
        except Exception:  # noqa: BLE001
            pass
    if not events:
        message = data.get("message") if isinstance(data, dict) else None
        session_start = isinstance(message, str) and message.strip().startswith("/session_start")
        return "no_reply", ([] if session_start else ["no_reply"])
    first = events[0][0]
    problems = []
    replies = [payload for name, payload in events if name == "bot_uttered"]
    if any(isinstance(r, dict) and FALLBACK_TEXT in (r.get("text") or "") for r in replies):
        problems.append("fallback")
    if any(not isinstance(r, dict) or not (r.get("text") or "").strip() for r in replies):
        problems.append("silent")
    if any(isinstance(r, dict) and (r.get("custom") or {}).get("degraded") for r in replies):
        problems.append("degraded")
    if case.expect_valid and first != "bot_uttered":
        problems.append("silent")
    if case.over_limit and first not in ("disconnected", "input_error"):
        problems.append("wrong_413")
    return first, problems
