"""The project's own rules for personal details that are not names: regular expressions with context.

Each finder returns `Found` spans (start, end, kind). They run inside Presidio (as one recogniser,
storage/pii_engine.py) and alone when Presidio is unavailable. Kinds map to placeholders in
storage/redaction.py. Ages, durations, doses, pain scores, temperatures and spinal levels never match:
every number rule needs a context word, a checksum or the shape of a phone number/date with a year.
"""
from __future__ import annotations

import re
from typing import NamedTuple


class Found(NamedTuple):
    start: int
    end: int
    kind: str     # PERSON, PHONE, EMAIL, DATE, ADDRESS, POSTCODE, ID, CARD, BANK


_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DAY = r"(?:[0-2]?\d|3[01])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# "priya dot shah at gmail dot com"
_SPELT_EMAIL = re.compile(r"\b[\w-]+(?:\s+dot\s+[\w-]+)*\s+at\s+[\w-]+(?:\s+dot\s+[a-z]{2,}){1,3}\b",
                          re.IGNORECASE)

# A run of digits with separators; a phone number when it has as many digits as one.
PHONE_CANDIDATE = re.compile(r"(?<![\w+/])(?:\+|00)?\(?\d[\d ().-]{5,}\d(?![\w/])")

_DATE = re.compile(
    rf"\b(?:{_DAY}[/.-](?:0?[1-9]|1[0-2])[/.-](?:{_YEAR}|\d\d)"   # 12/03/1980, 12.3.80
    rf"|(?:0?[1-9]|1[0-2])[/.-]{_DAY}[/.-]{_YEAR}"              # 03/12/1980 (US)
    rf"|{_YEAR}-(?:0?[1-9]|1[0-2])-{_DAY}"                       # 1980-03-12
    rf"|(?:the\s+)?{_DAY}(?:\s+of)?\s+{_MONTHS}\.?,?\s+(?:{_YEAR}|'?\d\d)"   # 12th of March 1980
    rf"|{_MONTHS}\.?\s+{_DAY},?\s+{_YEAR})(?![\d/])",            # March 12, 1980
    re.IGNORECASE)
# Whatever follows "born on", "DOB", "date of birth": a date without a year, or just the year.
_BIRTH = re.compile(
    rf"\b(?:born(?:\s+(?:on|in))?(?:\s+the)?|d\.?o\.?b\.?|date\s+of\s+birth|birthday)(?:\s+is)?\s*[:\-]?\s*"
    rf"(?P<value>(?:{_DAY}(?:\s+of)?\s+{_MONTHS}|{_MONTHS}\s+{_DAY}|{_DAY}[/.-]\d{{1,2}}"
    rf"|{_MONTHS}|{_YEAR})(?:[/.,-]?\s*(?:{_YEAR}|\d\d))?)\b",
    re.IGNORECASE)

UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[ABD-HJLNP-UW-Z]{2}\b", re.IGNORECASE)
_US_STATES = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
              "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC").split()
_US_ZIP = re.compile(
    rf"\b(?:(?:{'|'.join(_US_STATES)})\s+|(?i:zip(?:\s*code)?)\s*[:#]?\s*)\d{{5}}(?:-\d{{4}})?\b")

_STREET_TYPES = (r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|way|court|ct|place|pl|"
                 r"crescent|terrace|boulevard|blvd|gardens|grove|square|sq|mews|row|parade|walk|"
                 r"hill|park|highway|hwy|green|gate|view|rise|vale|croft|fold|wynd|cottage)")
# Street words that are also everyday words: only capitalised ("Park Lane", not "the park").
_PLAIN_TYPES = (r"(?:street|road|avenue|ave|lane|drive|close|crescent|terrace|gardens|grove|mews|"
                r"parade|boulevard|court|place|square)")
_UNIT = r"(?:(?:flat|apt|apartment|unit)\s*\d+[a-z]?,?\s+)"
_NOT_STREET_WORD = (r"(?!(?:the|a|an|of|up|down|to|in|on|at|my|and|or|times|days|weeks|miles|"
                    r"hours|mins|reps)\b)")
# "14 Kingsley Road", "flat 3, 22 baker street", "350 5th Ave, Apt 4B", "12 The Green"
_STREET = re.compile(
    rf"\b(?i:{_UNIT})?\d{{1,5}}[a-zA-Z]?,?\s+"
    rf"(?:(?:The|[A-Z][\w'-]*|\d+(?:st|nd|rd|th))\s+){{1,3}}(?i:{_STREET_TYPES})\b\.?"
    rf"(?:,?\s+(?i:apt|apartment|unit|flat)\s*\d+[a-z]?)?"
    rf"|\b(?i:{_UNIT})?\d{{1,5}}[a-z]?,?\s+(?:{_NOT_STREET_WORD}[a-z][a-z'-]+\s+){{1,3}}{_PLAIN_TYPES}\b")
# "Elm Grove", "Moor Lane": capitalised name + street word, no number.
_NAMED_STREET = re.compile(
    r"\b(?:[A-Z][a-z'-]+\s+){1,2}(?:Street|Road|Avenue|Lane|Drive|Close|Way|Court|Place|Crescent|"
    r"Terrace|Boulevard|Gardens|Grove|Square|Mews|Row|Parade|Walk|Hill|Green|Rise|Vale|Croft|Cottage)\b")
# "I live on station road", "just off Westgate", "I live at ..." up to the end of the clause.
_LIVE_ON = re.compile(
    r"\b(?:live|living|staying|are|we're|i'm|im|just)\s+(?:on|off|at)\s+(?P<value>(?:[a-z][a-z'-]+\s+){0,2}"
    rf"(?:{_PLAIN_TYPES}|[a-z]+gate)|[A-Z][a-z]+gate)\b", re.IGNORECASE)
_ADDRESS_PHRASE = re.compile(
    r"\b(?:(?:my\s+(?:home\s+|old\s+|new\s+)?)?address\s+(?:is|was)|i\s+live\s+at|address\s*:|"
    r"send\s+(?:it|the\s+letter|letters)\s+to)\s*(?P<value>[^.;!?\n]+?)"
    r"(?=\s*(?:[.;!?\n]|$|\b(?:and|but|so|until|then|if|because|i'm|im|is)\b))",
    re.IGNORECASE)

# Identifiers: a number after what it is ("NHS number", "policy no.", "MRN", "passport"...).
_ID_WORDS = (r"(?:nhs|hospital|mrn|unit|patient|pt|member(?:ship)?|policy|insurance|passport|ssn|"
             r"social\s+security|n\.?i\.?|national\s+insurance|group|claim|reference|ref|"
             r"medicare|medicaid|chi|id)")
_ID = re.compile(
    rf"\b{_ID_WORDS}(?:\s+(?:number|no\.?|num|nr|id|#|code))?(?:\s+(?:is|was))?\s*[:#=]?\s*"
    r"(?P<value>(?:[A-Z]{1,4}-?)?\d[\dA-Z-]*(?:[ -]\d{2,}){0,3}(?:-[A-Z]\b)?)",
    re.IGNORECASE)
_NINO = re.compile(r"\b(?!bg|gb|nk|kn|nt|tn|zz)[a-ceghj-pr-tw-z][a-ceghj-npr-tw-z]\s?\d{2}\s?\d{2}\s?\d{2}\s?[a-d]\b",
                   re.IGNORECASE)
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}\b")
_SORT_CODE = re.compile(r"\bsort\s*code\s*(?:is\s*)?[:\-]?\s*(?P<value>\d{2}[- ]?\d{2}[- ]?\d{2})\b", re.IGNORECASE)
_ACCOUNT = re.compile(r"\b(?:account|acc|a/c)(?:\s+(?:number|no\.?))?(?:\s+is)?\s*[:\-]?\s*(?P<value>\d{8})\b",
                      re.IGNORECASE)
_CARD_CANDIDATE = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_IBAN_CANDIDATE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{1,4}){3,8}\b")


def digits(text: str) -> int:
    return sum(char.isdigit() for char in text)


def is_phone_number(text: str) -> bool:
    international = text.startswith(("+", "00"))
    return (10 <= digits(text) <= 15) or (international and 8 <= digits(text) <= 15)


def luhn_ok(number: str) -> bool:
    values = [int(char) for char in number if char.isdigit()]
    total = 0
    for position, value in enumerate(reversed(values)):
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    compact = re.sub(r"[ -]", "", candidate).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _all(pattern: re.Pattern, text: str, kind: str, group: str | int = 0) -> list[Found]:
    return [Found(*m.span(group), kind) for m in pattern.finditer(text) if m.group(group)]


def find_identifiers(text: str) -> list[Found]:
    found = [Found(*m.span("value"), "ID") for m in _ID.finditer(text) if digits(m.group("value")) >= 5]
    found += _all(_NINO, text, "ID") + _all(_SSN, text, "ID")
    return found


def find_financial(text: str) -> list[Found]:
    found = _all(_SORT_CODE, text, "BANK", "value") + _all(_ACCOUNT, text, "BANK", "value")
    found += [Found(*m.span(), "CARD") for m in _CARD_CANDIDATE.finditer(text) if luhn_ok(m.group())]
    found += [Found(*m.span(), "BANK") for m in _IBAN_CANDIDATE.finditer(text) if iban_ok(m.group())]
    return found


def find_contacts(text: str) -> list[Found]:
    found = _all(EMAIL, text, "EMAIL") + _all(_SPELT_EMAIL, text, "EMAIL")
    found += [Found(*m.span(), "PHONE") for m in PHONE_CANDIDATE.finditer(text) if is_phone_number(m.group())]
    return found


def find_dates(text: str) -> list[Found]:
    return _all(_DATE, text, "DATE") + _all(_BIRTH, text, "DATE", "value")


def find_addresses(text: str) -> list[Found]:
    found = _all(_ADDRESS_PHRASE, text, "ADDRESS", "value") + _all(_STREET, text, "ADDRESS")
    found += _all(_NAMED_STREET, text, "ADDRESS") + _all(_LIVE_ON, text, "ADDRESS", "value")
    found += _all(UK_POSTCODE, text, "POSTCODE") + _all(_US_ZIP, text, "POSTCODE")
    return found


def find_all(text: str) -> list[Found]:
    """Every non-name detail the project's own rules see (overlaps are resolved by the caller)."""
    return (find_contacts(text) + find_dates(text) + find_addresses(text)
            + find_identifiers(text) + find_financial(text))
