"""Postal addresses in patient text: streets, flats and buildings, towns, postcodes.

An address is found from an anchor (a street such as "14 Kingsley Road" or "Elm Grove", a postcode,
"my address is ...", "I live on ...") and then grown over its neighbouring parts, so that
"Flat 6, 40 Green Lanes, London N4 1EN" or "1820 Pine St, Apt 4B, Philadelphia, PA 19103" becomes one
span: a flat or unit, a named building ("Beaumont House", "The Old Rectory"), a numbered street with
no street word ("91 Kingsway"), the town after a street or before a postcode, a US state and ZIP,
an Irish Eircode, a continental postcode with its town ("1016 DV Amsterdam", "Madrid 28013").
A town alone is not an address; a named route after "the" ("the Pennine Way") is not one either.
"""
from __future__ import annotations

import re

from storage.pii_names import common_words, first_names
from storage.pii_rules import Found

_UPPER = r"[^\W\d_a-z]"                      # a capital letter, accented ones too
_CAP = rf"{_UPPER}[^\W\d_]*(?:['’][^\W\d_]+)*"  # "Kingsway", "Tŷ", "Mary's"
_PARTICLE = r"(?:upon|on|in|under|le|la|de|des|del|du|di|van|von|der|the|by|en|y|sur)"

_STREET_TYPES = (r"(?:street|st|road|rd|avenue|ave|lane|lanes|ln|drive|dr|close|way|court|ct|place|pl|"
                 r"crescent|terrace|boulevard|blvd|gardens|grove|square|sq|mews|row|parade|walk|"
                 r"hill|park|highway|hwy|green|gate|view|rise|vale|croft|fold|wynd|cottages?)")
# Street words that are also everyday words: only capitalised ("Park Lane", not "the park").
_PLAIN_TYPES = (r"(?:street|road|avenue|ave|lane|drive|close|crescent|terrace|gardens|grove|mews|"
                r"parade|boulevard|court|place|square)")
_UNIT = r"(?i:flat|apt\.?|apartment|unit|suite|room)\s*\d+[a-zA-Z]?"
_NUMBER = r"\d{1,5}(?:/\d{1,3})?[a-zA-Z]?"     # 14, 12a, 19/3 (an Edinburgh flat)
# Words after a number that make it a time, distance or count rather than a house number.
_NOT_STREET_WORD = (r"(?!(?:the|a|an|of|up|down|to|in|on|at|my|and|or|times?|days?|weeks?|months?|years?|"
                    r"miles?|hours?|hrs?|mins?|minutes?|km|kms|k|metres?|meters?|yards?|reps|sets|laps|"
                    r"long|short|hard|easy|more|extra)\b)")
# "14 Kingsley Road", "flat 3, 22 baker street", "350 5th Ave", "12 The Green", "19/3 Leith Walk"
_STREET = re.compile(
    rf"\b(?:{_UNIT},?\s+)?{_NUMBER},?\s+"
    rf"(?:(?:The|{_CAP}|\d+(?:st|nd|rd|th))\s+){{1,3}}(?i:{_STREET_TYPES})\b\.?"
    rf"|\b(?:{_UNIT},?\s+)?{_NUMBER},?\s+(?:{_NOT_STREET_WORD}[a-z][a-z'-]+\s+){{1,3}}{_PLAIN_TYPES}\b")
# "Elm Grove", "Moor Lane": capitalised name + street word, no number.
_NAMED_STREET = re.compile(
    rf"\b(?:{_CAP}\s+){{1,2}}(?:Street|Road|Avenue|Lane|Lanes|Drive|Close|Way|Court|Place|Crescent|"
    r"Terrace|Boulevard|Gardens|Grove|Square|Mews|Row|Parade|Walk|Hill|Green|Rise|Vale|Croft|Cottages?)\b")
# "I live on station road", "just off Westgate".
_LIVE_ON = re.compile(
    r"\b(?:live|living|staying|are|we're|i'm|im|just)\s+(?:on|off|at)\s+(?P<value>(?:[a-z][a-z'-]+\s+){0,2}"
    rf"(?:{_PLAIN_TYPES}|[a-z]+gate)|[A-Z][a-z]+gate)\b", re.IGNORECASE)
_ADDRESS_PHRASE = re.compile(
    r"\b(?:(?:my\s+(?:home\s+|old\s+|new\s+)?)?address\s+(?:is|was)|i\s+live\s+at|address\s*:|"
    r"send\s+(?:it|the\s+letter|letters)\s+to)\s*(?P<value>[^.;!?\n]+?)"
    # it ends at a sentence's end, a conjunction, or the next label of a form ("... TF13 6EP Carer contact: 0163...")
    r"(?=\s*(?:[.;!?\n|]|$|\b(?:and|but|so|until|then|if|because|i'm|im|is)\b|(?:[^\W\d_]+\s+){0,2}[^\W\d_]+\s*:))",
    re.IGNORECASE)

UK_POSTCODE = re.compile(r"\b(?i:[A-Z]{1,2}\d[A-Z\d]?\s*\d[ABD-HJLNP-UW-Z]{2})\b")
_US_STATES = ("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
              "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC").split()
_US_ZIP = re.compile(
    rf"\b(?:(?:{'|'.join(_US_STATES)})\s+|(?i:zip(?:\s*code)?)\s*[:#]?\s*)\d{{5}}(?:-\d{{4}})?\b")
# Irish Eircode: a routing key (letter, two digits) and four letters/digits with at least one digit.
_EIRCODE = re.compile(r"\b(?:[AC-FHKNPRTV-Y]\d{2}|D6W)\s?(?=[0-9AC-FHKNPRTV-Y]{0,3}\d)[0-9AC-FHKNPRTV-Y]{4}\b")
_POSTCODES = (UK_POSTCODE, _US_ZIP, _EIRCODE)
# A flat or unit standing apart from its street ("Wellington Street above the chemist, flat 2"): an
# address part only in a message that gives a street.
_LONE_UNIT = re.compile(rf"\b{_UNIT}\b{_NOT_STREET_WORD}(?!\s*(?:hours?|hrs?|mins?|minutes?|days?|weeks?|secs?|seconds?)\b)")

# Parts an address grows over. A building: "Beaumont House", "The Old Rectory", "Canal Wharf".
_BUILDING = (rf"(?:The\s+)?(?:{_CAP}\s+){{0,2}}(?:House|Court|Cottages?|Lodge|Farm|Hall|Manor|Mill|Barn|"
             r"Rectory|Vicarage|Wharf|Buildings|Mansions|Towers?|Apartments|Flats|Works|Yard|Chambers|"
             r"Villas?|Bungalow|Estate|Centre|Point|Heights|Quay)")
_NUMBERED = rf"{_NUMBER}\s+{_CAP}(?:\s+(?:{_PARTICLE}\s+)?{_CAP}){{0,3}}"      # "91 Kingsway", "8 Rue des Lilas"
_TOWN = rf"{_CAP}(?:[\s-]+(?:{_PARTICLE}[\s-]+)?{_CAP}){{0,2}}"
_LOWER_TOWN = r"[a-z][a-z'-]+(?:\s+[a-z][a-z'-]+)?"                            # "little snoring nr21 0aa"
_CONTINENTAL = re.compile(                  # "Keizersgracht 221, 1016 DV Amsterdam", "23 Calle Mayor, Madrid 28013"
    rf"(?:\b{_CAP}\s+\d{{1,4}}[a-z]?|\b{_NUMBERED}),\s+(?:\d{{4,5}}(?:\s?[A-Z]{{2}})?\s+{_TOWN}|{_TOWN}\s+\d{{4,5}})\b")

_SEP = r"(?:,\s*|\s+)"
_RIGHT_PARTS = [re.compile(rf"{_SEP}(?P<part>{p})\b") for p in
                (_UNIT, UK_POSTCODE.pattern, _US_ZIP.pattern, _EIRCODE.pattern, _BUILDING, _TOWN)]
# Any one to three words between a street and its postcode are its town ("5 church lane, little snoring nr21 0aa").
_POSTCODE_ANY = "|".join(p.pattern for p in _POSTCODES)
_RIGHT_TOWN_POSTCODE = re.compile(rf"{_SEP}(?P<part>(?:[^\W\d_]+[\s-]+){{0,2}}[^\W\d_]+{_SEP}(?:{_POSTCODE_ANY}))\b")
# "14 beech road otley." a lower-case town closing the clause after a street.
_RIGHT_LOWER_TOWN = re.compile(rf"{_SEP}(?P<part>{_LOWER_TOWN})(?=\s*(?:[,.;!?]|$))")
_RIGHT_IN_TOWN = re.compile(rf"\s+in\s+(?P<part>{_TOWN}|{_LOWER_TOWN})\b")     # "Cranbrook Road in Ilford"
_LEFT_PARTS = [re.compile(rf"(?<![\w'’-])(?P<part>{p}){_SEP}\Z")
               for p in (_UNIT, rf"(?:{_NUMBER}\s+)?{_BUILDING}", _NUMBERED)]     # "19 Canal Wharf"
_LEFT_STREET = [re.compile(rf"(?P<part>{p.pattern}){_SEP}\Z") for p in (_STREET, _NAMED_STREET)]
_LEFT_TOWN = re.compile(rf"(?<![\w'’-])(?P<part>{_TOWN}|{_LOWER_TOWN}){_SEP}\Z")
# Words that stand before a postcode or after a street without being a town.
_NOT_TOWN = frozenset("""postcode post code zip address adres addr home work town city area country
tel phone mobile email dob nhs from and or but so the my our his her their in at on to of for""".split())


def _is_town(words: str) -> bool:
    parts = [w.lower() for w in re.split(r"[\s-]+", words) if w]
    if not parts or any(p in _NOT_TOWN for p in parts):
        return False
    if words[0].islower():         # lower-case: only words that are neither English nor clinical
        return all(p not in common_words() and p not in first_names() for p in parts)
    return not all(p in common_words() for p in parts)


def _grow(text: str, start: int, end: int, is_street: bool) -> tuple[int, int]:
    """Extend an address span over its flat, building, street, town and postcode neighbours."""
    grew = True
    while grew:
        grew = False
        for pattern in _RIGHT_PARTS + ([_RIGHT_TOWN_POSTCODE, _RIGHT_IN_TOWN, _RIGHT_LOWER_TOWN] if is_street else []):
            match = pattern.match(text, end)
            if match:
                if pattern in (_RIGHT_PARTS[-1], _RIGHT_IN_TOWN, _RIGHT_LOWER_TOWN) and not _is_town(match.group("part")):
                    continue
                end, grew = match.end("part"), True
                break
    passed_street = is_street
    grew = True
    while grew:
        grew = False
        before = text[max(0, start - 80):start]
        offset = start - len(before)
        candidates = _LEFT_PARTS + _LEFT_STREET + ([] if passed_street else [_LEFT_TOWN])
        for pattern in candidates:
            match = pattern.search(before)
            if not match or (pattern is _LEFT_TOWN and not _is_town(match.group("part"))):
                continue
            start, grew = offset + match.start("part"), True
            passed_street = passed_street or pattern is not _LEFT_TOWN
            break
    return start, end


def _not_a_route(text: str, match: re.Match) -> bool:
    return not re.search(r"\bthe\s+\Z", text[max(0, match.start() - 5):match.start()], re.IGNORECASE)


def find_addresses(text: str) -> list[Found]:
    anchors: list[tuple[int, int, bool]] = []
    for pattern, group in ((_ADDRESS_PHRASE, "value"), (_LIVE_ON, "value"), (_STREET, 0), (_CONTINENTAL, 0)):
        anchors += [(*m.span(group), True) for m in pattern.finditer(text) if m.group(group)]
    anchors += [(*m.span(), True) for m in _NAMED_STREET.finditer(text) if _not_a_route(text, m)]
    anchors += [(*m.span(), False) for pattern in _POSTCODES for m in pattern.finditer(text)]
    if anchors:
        anchors += [(*m.span(), True) for m in _LONE_UNIT.finditer(text)]
    found = []
    for start, end, is_street in anchors:
        grown = _grow(text, start, end, is_street)
        found.append(Found(*grown, "ADDRESS" if is_street or grown != (start, end) else "POSTCODE"))
    return found
