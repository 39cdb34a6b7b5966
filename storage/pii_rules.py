"""The project's own rules for contacts, dates, identity numbers and bank details (names: pii_names.py,
addresses: pii_addresses.py): regular expressions with context.

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
# After a number: a unit makes it a quantity, not a two-digit year ("12 May, 22 hour flight").
_NOT_UNIT = (r"(?![\s-]*(?:hours?|hrs?|h|minutes?|mins?|days?|weeks?|wks?|months?|years?|yrs?|miles?|km|"
             r"mg|kg|lbs?|stone|times|x|degrees|min)\b)")
_DAY = r"(?:[0-2]?\d|3[01])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
# Month names of the languages patients write in besides English ("8 de julio de 1975").
_FOREIGN_MONTHS = (r"(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre"
                   r"|janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre"
                   r"|januar|februar|m[äa]rz|juni|juli|oktober|dezember|gennaio|febbraio|aprile|maggio|giugno"
                   r"|luglio|settembre|ottobre|dicembre|stycznia|lutego|marca|kwietnia|maja|czerwca|lipca"
                   r"|sierpnia|wrze[sś]nia|pa[zź]dziernika|listopada|grudnia)")

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
    rf"|(?:the\s+)?{_DAY}(?:\s+of)?\s+{_MONTHS}\.?,?\s+(?:{_YEAR}|'?\d\d{_NOT_UNIT})"   # 12th of March 1980
    rf"|{_MONTHS}\.?\s+{_DAY},?\s+{_YEAR}"                        # March 12, 1980
    rf"|{_DAY}\.?\s+(?:de\s+)?{_FOREIGN_MONTHS}\s+(?:de\s+)?{_YEAR})(?![\d/])",   # 8 de julio de 1975
    re.IGNORECASE)
# Whatever follows "born on", "DOB", "date of birth": a date without a year, or just the year.
_BIRTH = re.compile(
    rf"\b(?:born(?:\s+(?:on|in))?(?:\s+the)?|d\.?o\.?b\.?|date\s+of\s+birth|birthday)(?:\s+is)?\s*[:\-]?\s*"
    rf"(?P<value>(?:{_DAY}(?:\s+of)?\s+{_MONTHS}|{_MONTHS}\s+{_DAY}|{_DAY}[/.-]\d{{1,2}}"
    rf"|{_DAY}\s+(?:0?[1-9]|1[0-2])\s+{_YEAR}"                      # DOB 11 11 1977
    rf"|(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])(?:{_YEAR}|\d\d)"   # DOB 12031980
    rf"|{_MONTHS}|{_YEAR})(?:[/.,-]?\s*(?:{_YEAR}|\d\d))?)\b",
    re.IGNORECASE)

# Identifiers: a number after what it is ("NHS number", "policy no.", "MRN", "passport"...).
_ID_WORDS = (r"(?:nhs|hospital|hosp|mrn|unit|patient|pt|member(?:ship)?|policy|insurance|passport|ssn|"
             r"social\s+security|n\.?i\.?|national\s+insurance|group|claim|reference|ref|"
             r"medicare|medicaid|chi|id|(?:driving\s+)?licen[cs]e)")
_ID = re.compile(
    rf"\b{_ID_WORDS}(?![a-z])(?:\s+(?:number|no\.?|num|nr|id|#|code))?"
    r"(?:(?:\s+[\w'’.]+){0,5}?\s+(?:is|was|as)\b)?\s*[:#=]?\s*"      # "MRN at St Thomas' is ...", "... as H-2298"
    # "AXA-TRV-448102", "AV 55 91 02 33", "UHC 9981 2207 A": letter groups, digit groups, a check letter
    r"(?P<value>(?:[A-Z]{1,5}[-/]|(?-i:[A-Z]{1,5})\s){0,3}[A-Z]{0,5}\d[\dA-Z-]*(?:[ -]\d{2,}){0,3}"
    r"(?:-[A-Z]\b|\s(?-i:[A-Z])(?=[.,;)]|\s*$))?)",
    re.IGNORECASE)
# Any "<word> number 123456...": an identifier unless it is a phone number.
_ANY_NUMBER = re.compile(
    r"\b(?P<label>[a-z]{2,})\s+(?:number|no\.?|num|nr|#)(?:\s+(?:is|was))?\s*[:#=]?\s*"
    r"(?P<value>(?:[A-Z]{1,4}[-/]?)?\d[\d -]{4,}\d)\b", re.IGNORECASE)
_NOT_ID_LABELS = frozenset("""my your his her our their the a an this that new old same different right wrong
phone mobile mob tel telephone contact cell landline home work whatsapp emergency office direct fax
house flat room bus door""".split())
_NINO = re.compile(r"\b(?!bg|gb|nk|kn|nt|tn|zz)[a-ceghj-pr-tw-z][a-ceghj-npr-tw-z]\s?\d{2}\s?\d{2}\s?\d{2}\s?[a-d]\b",
                   re.IGNORECASE)
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}\b")
_SORT_CODE = re.compile(r"\bsort\s*code\s*(?:is\s*)?[:\-]?\s*(?P<value>\d{2}[- ]?\d{2}[- ]?\d{2})\b", re.IGNORECASE)
_ACCOUNT = re.compile(r"\b(?:account|acct|acc|a/c)(?:\s+(?:number|no\.?))?(?:\s+is)?\s*[:\-]?\s*(?P<value>\d{8})\b",
                      re.IGNORECASE)
# Part of a card ("card ending 4421", "CVV 123") and a bank's BIC/SWIFT code.
_CARD_PART = re.compile(r"\b(?:(?:card\s+)?ending(?:\s+in)?|last\s+(?:4|four)(?:\s+digits)?|cvv2?|cvc|security\s+code)"
                        r"(?:\s+(?:is|are))?\s*[:\-]?\s*(?P<value>\d{3,4})\b", re.IGNORECASE)
_BIC = re.compile(r"\b(?:bic|swift)(?:\s+code)?(?:\s+is)?\s*[:\-]?\s*(?P<value>[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)\b",
                  re.IGNORECASE)
_SORT_CODE_SHAPE = re.compile(r"\b\d{2}-\d{2}-\d{2}\b")
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
    found += [Found(*m.span("value"), "ID") for m in _ANY_NUMBER.finditer(text)
              if m.group("label").lower() not in _NOT_ID_LABELS and digits(m.group("value")) >= 6
              and not (is_phone_number(m.group("value")) and m.group("value").startswith(("0", "+")))]
    found += _all(_NINO, text, "ID") + _all(_SSN, text, "ID")
    return found


def find_financial(text: str) -> list[Found]:
    found = _all(_SORT_CODE, text, "BANK", "value") + _all(_ACCOUNT, text, "BANK", "value")
    found += _all(_CARD_PART, text, "CARD", "value") + _all(_BIC, text, "BANK", "value")
    sort_code = re.search(r"\bsort\s*code\b", text, re.IGNORECASE)
    if sort_code:      # "sort code 11-22-33? no, 11-22-58": every such number after the words
        found += [Found(*m.span(), "BANK") for m in _SORT_CODE_SHAPE.finditer(text, sort_code.end())]
    found += [Found(*m.span(), "CARD") for m in _CARD_CANDIDATE.finditer(text) if luhn_ok(m.group())]
    found += [Found(*m.span(), "BANK") for m in _IBAN_CANDIDATE.finditer(text) if iban_ok(m.group())]
    return found


def find_contacts(text: str) -> list[Found]:
    found = _all(EMAIL, text, "EMAIL") + _all(_SPELT_EMAIL, text, "EMAIL")
    found += [Found(*m.span(), "PHONE") for m in PHONE_CANDIDATE.finditer(text) if is_phone_number(m.group())]
    return found


def find_dates(text: str) -> list[Found]:
    return _all(_DATE, text, "DATE") + _all(_BIRTH, text, "DATE", "value")


def find_all(text: str) -> list[Found]:
    """Every contact, date, identifier and bank detail the project's own rules see (overlaps are resolved by the caller)."""
    return find_contacts(text) + find_dates(text) + find_identifiers(text) + find_financial(text)
