"""Redact personal details from patient text: names, phone numbers, emails, dates of birth and
dated events, addresses and postcodes, identity numbers (NHS, SSN, NI, hospital, insurance,
passport) and bank or card details, each replaced by a placeholder such as [name] or [id].

Microsoft Presidio's analyser (storage/pii_engine.py) finds them with its checksum-checked
recognisers plus the project's own rules; it is loaded once, on first use. If it cannot load, the
project's rules run alone (logged once). Ages, durations, doses, pain scores and clinical words stay.
"""
from __future__ import annotations

import logging
import threading

from storage import pii_engine
from storage.pii_rules import EMAIL, PHONE_CANDIDATE, Found, is_phone_number

log = logging.getLogger(__name__)

PLACEHOLDERS = {"PERSON": "[name]", "PHONE": "[phone]", "EMAIL": "[email]", "DATE": "[date]",
                "ADDRESS": "[address]", "POSTCODE": "[postcode]", "ID": "[id]", "CARD": "[card]",
                "BANK": "[bank]"}
NAME, PHONE, EMAIL_MARK, DATE, ADDRESS, POSTCODE = (PLACEHOLDERS[k] for k in
                                                    ("PERSON", "PHONE", "EMAIL", "DATE", "ADDRESS", "POSTCODE"))
# Where findings overlap, the merged span takes the most specific kind.
_PRIORITY = ("CARD", "BANK", "ID", "EMAIL", "DATE", "PHONE", "ADDRESS", "POSTCODE", "PERSON")

_lock = threading.Lock()
_analyzer = None
_state = "unloaded"      # unloaded | presidio | rules


def _load():
    global _analyzer, _state
    with _lock:
        if _state == "unloaded":
            try:
                _analyzer = pii_engine.build_analyzer()
                _state = "presidio"
            except Exception as error:  # noqa: BLE001 - any failure means: use our rules alone
                log.warning("Presidio could not be loaded (%s: %s); redacting with the project's rules only",
                            type(error).__name__, error)
                _state = "rules"
    return _analyzer


def engine_name() -> str:
    """"presidio" or "rules" (loads the analyser if needed)."""
    _load()
    return _state


def find_personal_details(text: str) -> list[Found]:
    """The personal details in `text` as non-overlapping spans, in order."""
    analyzer = _load()
    found = pii_engine.project_rules(text)
    if analyzer is not None:
        try:
            found += pii_engine.analyze(analyzer, text)
        except Exception as error:  # noqa: BLE001 - one bad message must not stop storing it
            log.warning("Presidio failed on a message (%s); the project's rules were used", type(error).__name__)
    return _merge(found)


def _merge(found: list[Found]) -> list[Found]:
    merged: list[Found] = []
    for item in sorted(found):
        if item.end <= item.start:
            continue
        if merged and item.start < merged[-1].end:
            last = merged[-1]
            kind = min(last.kind, item.kind, key=_PRIORITY.index)
            merged[-1] = Found(last.start, max(last.end, item.end), kind)
        else:
            merged.append(item)
    return merged


def redact(text: str | None) -> str | None:
    """Return text with personal details replaced by markers such as [name] and [phone]."""
    if not text:
        return text
    pieces, position = [], 0
    for start, end, kind in find_personal_details(text):
        pieces += [text[position:start], PLACEHOLDERS[kind]]
        position = end
    return "".join(pieces) + text[position:]


def find_phone_number(text: str) -> str | None:
    """The first phone number in a message (the same rule redaction uses), or None."""
    return next((m.group(0).strip() for m in PHONE_CANDIDATE.finditer(text) if is_phone_number(m.group(0))), None)


def find_email(text: str) -> str | None:
    match = EMAIL.search(text)
    return match.group(0) if match else None


__all__ = ["redact", "find_personal_details", "find_phone_number", "find_email", "is_phone_number",
           "engine_name", "PLACEHOLDERS", "NAME", "PHONE", "EMAIL_MARK", "DATE", "ADDRESS", "POSTCODE"]
