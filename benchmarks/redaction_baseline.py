"""FROZEN baseline for benchmarks/redaction.py: storage/redaction.py as it was before Presidio (commit c447fe7),
regular expressions only. Not used by the product; do not tune."""
from __future__ import annotations

import re
from collections.abc import Callable

NAME, PHONE, EMAIL, DATE, ADDRESS, POSTCODE = (
    "[name]", "[phone]", "[email]", "[date]", "[address]", "[postcode]")

_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DAY = r"(?:[0-2]?\d|3[01])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)

# A run of digits with separators; kept only if it has as many digits as a phone number.
_PHONE_CANDIDATE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d ().-]{5,}\d(?![\w])")

_DATE = re.compile(
    rf"\b(?:{_DAY}[/.-](?:0?[1-9]|1[0-2])[/.-](?:{_YEAR}|\d\d)"   # 12/03/1980, 12.3.80
    rf"|(?:0?[1-9]|1[0-2])[/.-]{_DAY}[/.-]{_YEAR}"              # 03/12/1980 (US)
    rf"|{_YEAR}-(?:0?[1-9]|1[0-2])-{_DAY}"                       # 1980-03-12
    rf"|{_DAY}(?:\s+of)?\s+{_MONTHS}\.?,?\s+{_YEAR}"             # 12th of March 1980
    rf"|{_MONTHS}\.?\s+{_DAY},?\s+{_YEAR})\b",                   # March 12, 1980
    re.IGNORECASE)
# Whatever follows "born on", "DOB", "date of birth": a date without a year, or just the year.
_BIRTH = re.compile(
    rf"\b(?:born(?:\s+(?:on|in))?|d\.?o\.?b\.?|date\s+of\s+birth|birthday)(?:\s+is)?\s*[:\-]?\s*"
    rf"(?P<date>(?:{_DAY}(?:\s+of)?\s+{_MONTHS}|{_MONTHS}\s+{_DAY}|{_DAY}[/.-]\d{{1,2}}"
    rf"|{_MONTHS}|{_YEAR})(?:[/.,-]?\s*(?:{_YEAR}|\d\d))?)\b",
    re.IGNORECASE)

_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[ABD-HJLNP-UW-Z]{2}\b", re.IGNORECASE)
_US_STATES = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
              "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC").split()
_US_ZIP = re.compile(
    rf"\b(?:(?:{'|'.join(_US_STATES)})\s+|zip(?:\s*code)?\s*[:#]?\s*)\d{{5}}(?:-\d{{4}})?\b")

_STREET_TYPES = (r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|way|court|ct|place|pl|"
                 r"crescent|terrace|boulevard|blvd|gardens|grove|square|sq|mews|row|parade|walk|"
                 r"hill|park|highway|hwy)")
_STREET = re.compile(
    rf"\b(?:(?:flat|apt|apartment|unit)\s*\d+[a-z]?,?\s+)?\d{{1,5}}[a-zA-Z]?,?\s+"
    rf"(?:[A-Z][\w'-]*\s+){{1,3}}(?i:{_STREET_TYPES})\b\.?")
# "I live at ...", "my address is ...": up to the end of the clause.
_ADDRESS_PHRASE = re.compile(
    r"\b(?P<lead>(?:my\s+(?:home\s+)?address\s+is|i\s+live\s+at|address\s*:)\s*)[^.;!?\n]+",
    re.IGNORECASE)

_NAME_TOKEN = r"[A-Za-z][A-Za-z'-]+"
# Explicit introductions: the next one to three name-like words, whatever their case.
_NAME_INTRO = re.compile(
    rf"\b(?P<lead>(?:my\s+(?:full\s+|first\s+|last\s+|sur)?name\s+is|my\s+name's|name\s*:|"
    rf"call\s+me|this\s+is\s+(?={_NAME_TOKEN}\s+(?:here|speaking)))\s*)"
    rf"(?P<name>{_NAME_TOKEN}(?:\s+{_NAME_TOKEN}){{0,2}})",
    re.IGNORECASE)
# "I'm X" / "I am X": only a capitalised word that is not a common word.
_I_AM = re.compile(
    r"\b(?P<lead>(?i:i\s*am|i'm|i’m|im)\s+)(?P<name>[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?)\b")
_TITLED = re.compile(r"\b(?P<lead>(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?\s+)(?P<name>[A-Z][\w'-]+)")

# Words that follow "I'm" without being a name, capitalised or not.
_NOT_NAMES = frozenset("""
a an the in on at so not no now just also still really very quite too only currently always
never here there back home out off up down over done fine ok okay good great well better worse
bad sore stiff tired exhausted worried scared afraid anxious nervous concerned sure unsure
confused sorry glad happy sad unable able struggling having getting feeling going trying taking
looking waiting walking sitting standing lying sleeping working limping pregnant diabetic
allergic asthmatic overweight old young male female man woman a about around almost nearly
over under retired active fit healthy sick ill unwell poorly hurting aching numb weak dizzy
cold hot fed free busy new used alright recovering calling writing asking wondering
english british scottish welsh irish american european
""".split())
_NAME_STOPWORDS = frozenset("""
and but or so because then i im my me it its is was have has had having from with without
not no yes here speaking the a an to of in on at for
""".split())
# Explicit introductions that are not names: "call me back", "name is not important".
_NOT_NAMES_AFTER_INTRO = _NOT_NAMES | frozenset("back later tomorrow asap please".split())


def is_phone_number(text: str) -> bool:
    digits = sum(char.isdigit() for char in text)
    international = text.startswith(("+", "00"))
    return (10 <= digits <= 15) or (international and 8 <= digits <= 15)


def find_phone_number(text: str) -> str | None:
    """The first phone number in a message (the same rule redaction uses), or None."""
    return next((m.group(0).strip() for m in _PHONE_CANDIDATE.finditer(text) if is_phone_number(m.group(0))), None)


def find_email(text: str) -> str | None:
    match = _EMAIL.search(text)
    return match.group(0) if match else None


def _phone(match: re.Match) -> str:
    return PHONE if is_phone_number(match.group(0)) else match.group(0)


def _keep_lead(replacement: str) -> Callable[[re.Match], str]:
    def replace(match: re.Match) -> str:
        return match.group("lead") + replacement
    return replace


def _introduced_name(match: re.Match) -> str:
    words = match.group("name").split()
    kept: list[str] = []
    for word in words:
        if word.lower() in _NAME_STOPWORDS or (not kept and word.lower() in _NOT_NAMES_AFTER_INTRO):
            break
        kept.append(word)
    if not kept:
        return match.group(0)
    rest = match.group("name")[len(" ".join(kept)):]
    return match.group("lead") + NAME + rest


def _i_am(match: re.Match) -> str:
    words = match.group("name").split()
    if words[0].lower() in _NOT_NAMES:
        return match.group(0)
    # "I'm Sam Sore" is rare; "I'm Sam" is the case this handles.
    kept = [words[0]] + [w for w in words[1:2] if w.lower() not in _NOT_NAMES]
    rest = match.group("name")[len(" ".join(kept)):]
    return match.group("lead") + NAME + rest


def _birth(match: re.Match) -> str:
    start, end = match.span("date")
    whole = match.group(0)
    offset = match.start()
    return whole[:start - offset] + DATE + whole[end - offset:]


_RULES: list[tuple[re.Pattern, str | Callable[[re.Match], str]]] = [
    (_EMAIL, EMAIL),
    (_DATE, DATE),
    (_BIRTH, _birth),
    (_PHONE_CANDIDATE, _phone),
    (_ADDRESS_PHRASE, _keep_lead(ADDRESS)),
    (_STREET, ADDRESS),
    (_UK_POSTCODE, POSTCODE),
    (_US_ZIP, POSTCODE),
    (_NAME_INTRO, _introduced_name),
    (_TITLED, _keep_lead(NAME)),
    (_I_AM, _i_am),
]


def redact(text: str | None) -> str | None:
    """Return text with personal details replaced by markers such as [name] and [phone]."""
    if not text:
        return text
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
