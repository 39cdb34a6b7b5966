"""Encrypted references in console URLs and forms (conversation ids, list cursors).

A messaging conversation's id is a phone number or chat id, and a search names what a patient
said: neither may reach a URL, the browser's history or the proxy's access log. Each reference is
encrypted and signed with a key derived from CLINIC_SECRET_KEY (one per purpose) and carries the
time it was made, so a link found later in a browser's history stops working.
"""
from __future__ import annotations

import base64
import hashlib
import time

from cryptography.fernet import Fernet, InvalidToken

CONVERSATION = "console-conversation-urls"
LIST_CURSOR = "console-list-cursors"


class LinkExpired(Exception):
    """A genuine reference, older than its allowed age."""


def cipher(secret_key: str, purpose: str) -> Fernet:
    digest = hashlib.sha256(purpose.encode() + b":" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(text: str, purpose: str, secret_key: str) -> str:
    return cipher(secret_key, purpose).encrypt(text.encode()).decode()


def unseal(token: str, purpose: str, secret_key: str, max_age_seconds: int | None = None
           ) -> str | None:
    """The text behind a reference; None when the value is not one. Raises LinkExpired when it
    is one but older than max_age_seconds."""
    fernet = cipher(secret_key, purpose)
    try:
        text = fernet.decrypt(token.encode()).decode()
        made_at = fernet.extract_timestamp(token.encode())
    except (InvalidToken, ValueError, UnicodeError):
        return None
    if max_age_seconds is not None and time.time() - made_at > max_age_seconds:
        raise LinkExpired
    return text
