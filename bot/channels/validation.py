"""What the channels accept from the outside, and the HTTP answers when they don't."""
from __future__ import annotations

import functools
import json
import logging
import math
import re
from typing import Any, Awaitable, Callable, Dict, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

MAX_SENDER_CHARS = 128
MAX_METADATA_DEPTH = 8
MAX_METADATA_CHARS = 8 * 1024
# spaCy's tokenizer takes time quadratic in the length of a run without whitespace made of
# affix characters (20,000 emoji or brackets: over a minute, blocking the server for everyone);
# no real word is this long, so longer runs are cut with a space.
MAX_RUN_CHARS = 64
# Twenty thousand brackets, quotes or emoji are still 20,000 tokens once cut into runs, each
# costing the NLU time on the event loop every patient shares; a run of symbols (spaces between
# them or not) says no more after its first few, so it is kept to MAX_SYMBOL_RUN.
MAX_SYMBOL_RUN = 8

# C0/C1 control characters except tab and newline, and lone surrogates (invalid UTF-8).
_UNWANTED_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_LONG_RUN = re.compile(r"\S{%d}(?=\S)" % MAX_RUN_CHARS)
_SYMBOL_RUN = re.compile(r"((?:[^\w\s]\s*){%d})(?:[^\w\s]\s*)+" % MAX_SYMBOL_RUN)
_SENDER = re.compile(r"[A-Za-z0-9_.:@+\-]{1,%d}" % MAX_SENDER_CHARS)


class InvalidPayload(ValueError):
    """The request is well-formed HTTP but its content is not acceptable (→ 400)."""


def clean_text(text: str) -> str:
    """Drop control characters, keeping newlines (CR and CRLF become LF) and tabs; keep runs of
    symbols to MAX_SYMBOL_RUN and cut runs without whitespace longer than MAX_RUN_CHARS."""
    return _cut_long_runs(_drop_control_chars(text))


def _drop_control_chars(text: str) -> str:
    return _UNWANTED_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _cut_long_runs(text: str) -> str:
    text = _SYMBOL_RUN.sub(lambda run: run.group(1).rstrip() + " ", text)
    return _LONG_RUN.sub(r"\g<0> ", text)


def parse_json_object(body: bytes) -> Dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidPayload("body must be valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidPayload("body must be a JSON object")
    return value


def valid_sender(value: Any, field_name: str = "sender") -> str:
    if not isinstance(value, str) or not _SENDER.fullmatch(value):
        raise InvalidPayload(
            f"{field_name} must be 1-{MAX_SENDER_CHARS} characters of "
            "letters, digits and _ . : @ + -")
    return value


def valid_web_sender(value: Any, field_name: str = "sender") -> str:
    """A REST or socket.io conversation id. Messaging conversations are stored as
    "<channel>:<platform id>" (a phone number, a chat id), so a web client, which needs no
    signature, must not be able to name one."""
    sender = valid_sender(value, field_name)
    if ":" in sender:
        raise InvalidPayload(f"{field_name} may not contain ':' (reserved for the messaging channels)")
    return sender


def valid_message(value: Any, max_chars: int) -> str:
    """A message must be a string; empty is fine (the bot answers it)."""
    if not isinstance(value, str):
        raise InvalidPayload("message must be a string")
    text = _drop_control_chars(value)
    if len(text) > max_chars:
        raise InvalidPayload(f"message must be at most {max_chars} characters")
    return _cut_long_runs(text)


def valid_metadata(value: Any) -> Optional[Dict[str, Any]]:
    """Metadata is optional; when given, a small, shallow JSON object (or its JSON text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_json_object(value.encode("utf-8", "surrogatepass"))
    if not isinstance(value, dict):
        raise InvalidPayload("metadata must be a JSON object")
    cleaned = _clean_json(value, depth=0)
    if len(json.dumps(cleaned)) > MAX_METADATA_CHARS:
        raise InvalidPayload(f"metadata must be at most {MAX_METADATA_CHARS} characters")
    return cleaned


def _clean_json(value: Any, depth: int) -> Any:
    if depth > MAX_METADATA_DEPTH:
        raise InvalidPayload("metadata is nested too deeply")
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(key)): _clean_json(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_json(item, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidPayload("metadata numbers must be finite")
    return value


def error_response(status: int, reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


def webhook_blueprint(name: str, module_name: Optional[str]) -> Blueprint:
    """A channel's blueprint with its health route, GET / → {"status": "ok"}."""
    webhook = Blueprint(name, module_name)

    @webhook.route("/", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    return webhook


def client_ip(request: Request) -> str:
    """The peer address, or the proxy-forwarded one when Sanic's proxy settings allow it."""
    return request.remote_addr or request.ip or ""


Handler = Callable[..., Awaitable[HTTPResponse]]


def guarded(max_body_bytes: int) -> Callable[[Handler], Handler]:
    """Wrap a webhook: oversized bodies → 413, unacceptable content → 400, never a 5xx."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            if len(request.body or b"") > max_body_bytes:
                return error_response(413, f"body must be at most {max_body_bytes} bytes")
            try:
                return await handler(request, *args, **kwargs)
            except InvalidPayload as error:
                return error_response(400, str(error))
            except Exception:  # a payload shape we did not foresee: still the client's 4xx
                logger.exception("%s failed on a request; answered 400", handler.__qualname__)
                return error_response(400, "request could not be processed")

        return wrapper

    return decorate
