"""People's names in patient text, without a statistical model.

A name is taken where the text says it is one: "my name is ...", "I'm ...", "this is ... speaking",
"my son Tom", "the physio, Sarah,", "Dr Patel", "thanks, Aisha", "kev here", a capitalised pair at the
start ("Sarah Jones, 52, ..."), or a first name from storage/data/first_names.txt. Words that are
common English or clinical (knowledge/data's lexicon, drug names) are never names, except straight
after "my name is".
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from storage.pii_rules import Found

FIRST_NAMES_FILE = Path(__file__).resolve().parent / "data" / "first_names.txt"

# First names that are also everyday words: names only after an introduction, relation or title.
AMBIGUOUS = frozenset("""
will mark hope grace bill frank rose may june april dawn faith joy eve max dev kay lee dale sue pat
rob jack bob amber ruby holly lily jade robin carol jean kim glenn stella aurora lloyd norman angus
nat ali iris pearl hazel summer sunny miles rich ray gene guy art drew sky ivy heather penny chase
mason carter cooper hunter victoria florence
""".split())
# Words that follow "I'm"/"my son" etc. without being a name.
NOT_NAMES = frozenset("""
a an the in on at so not no now just also still really very quite too only currently always never
here there back home out off up down over done fine ok okay good great well better worse bad sore
stiff tired exhausted worried scared afraid anxious nervous concerned sure unsure confused sorry
glad happy sad unable able struggling having getting feeling going trying taking looking waiting
walking sitting standing lying sleeping working limping pregnant diabetic allergic asthmatic
overweight old young male female man woman about around almost nearly under retired active fit
healthy sick ill unwell poorly hurting aching numb weak dizzy cold hot fed free busy new used
alright recovering calling writing asking wondering english british scottish welsh irish american
european deaf blind disabled student nurse carer mum dad mother father wife husband son daughter
cant dont wont isnt hes shes its im ive didnt doesnt wasnt couldnt wouldnt says said told thinks
thought gave wants wanted has had have is was were be been being can could should would did does
do got get gets keeps kept hurt hurts again typing speaking here thanks thank please hi hello hey
hiya dear regards cheers yes yeah sorry google nhs gp physio doctor dr mr mrs ms miss clinic
hospital ward surgery pain today tomorrow yesterday tonight morning night week weeks month months
year years day days monday tuesday wednesday thursday friday saturday sunday january february
march april june july august september october november december asap later back needs need
naproxen ibuprofen paracetamol codeine tramadol warfarin apixaban rivaroxaban gabapentin pregabalin
amitriptyline diclofenac nurofen aspirin statins atorvastatin prednisolone sertraline lansoprazole
amlodipine metformin ramipril enoxaparin infliximab morphine oramorph diazepam cocodamol
sciatica dvt mri scan
""".split())
# Clinical eponyms: not names in "Baker's cyst" or "Thompson test", names after a title ("Mrs Thompson").
EPONYMS = frozenset("""
achilles baker bakers raynaud raynauds parkinson parkinsons crohn crohns sever severs homan homans
thompson guillain barre osgood schlatter addison addisons cushing cushings paget pagets
""".split())
_RELATIONS = (r"(?:son|daughter|wife|husband|partner|mum|mom|mother|mam|dad|father|brother|sister|"
              r"nan|nana|nanna|gran|granny|grandma|grandmother|grandad|granddad|grandpa|grandfather|"
              r"grandson|granddaughter|boyfriend|girlfriend|fiance|fiancee|friend|neighbour|neighbor|"
              r"carer|aunt|auntie|uncle|niece|nephew|child|kid|little\s+girl|little\s+boy|baby|"
              r"colleague|boss|flatmate|housemate|cousin|step\s*(?:son|daughter|mum|dad))")
_ROLES = r"(?:physio|physiotherapist|nurse|carer|consultant|gp|surgeon|midwife|osteo|osteopath|chiropractor|therapist)"
_TITLES = r"(?:mr|mrs|ms|miss|mx|dr|doctor|prof|professor|sister)"
_TOKEN = r"[^\W\d_]+(?:['’-][^\W\d_]+)*"
_STRONG = re.compile(
    r"\b(?:(?:my|his|her|their|\w+s|\w+'s)\s+(?:full\s+|first\s+|last\s+|real\s+|sur)?name(?:'s|s)?(?:\s+is)?"
    r"|my\s+names|name\s*[:\-]|name(?=\s+[A-Z])|patient(?:\s+name)?\s*:|pt\s+name\s*:|call\s+me)"
    r"\s*[:\-]?\s*", re.IGNORECASE)
_ASK = re.compile(r"\b(?:ask\s+for|speak\s+to|talk\s+to|text|contact)\s+", re.IGNORECASE)
_SELF = re.compile(r"\b(?:i\s*am|i'm|i’m|im|this\s+is|it's|it’s|its|it\s+is|hi|hiya|hello|hey)\s+(?:its\s+|it's\s+)?",
                   re.IGNORECASE)
_RELATION = re.compile(rf"\b(?:my|our|his|her|their)\s+{_RELATIONS}s?\s*(?:[,(]\s*|is\s+called\s+|called\s+|named\s+)?",
                       re.IGNORECASE)
_ROLE = re.compile(rf"\b(?:the\s+|my\s+)?{_ROLES}\s*,?\s*", re.IGNORECASE)
_TITLE = re.compile(rf"\b{_TITLES}\.?\s+", re.IGNORECASE)
_SIGN_OFF = re.compile(r"\b(?:thanks|thank\s+you|regards|cheers|best\s+wishes|kind\s+regards|many\s+thanks)\s*[,!.]?\s*"
                       r"(?=(?:\S+\s*){1,3}$)", re.IGNORECASE)
_HERE = re.compile(r"(?<=\s)(?:here|speaking)\b", re.IGNORECASE)
_BARE_START = re.compile(r"^\s*(?:[-–]\s*)?(?P<name>[A-Z][^\W\d_]*(?:['’-][^\W\d_]+)*(?:\s+[A-Z][^\W\d_]*(?:['’-][^\W\d_]+)*){1,2})\b"
                         r"(?=\s*(?:[,.(\-–]\s*)?\d{1,3}\b|\s*[,\-–]|\s*$)")
_WORD = re.compile(_TOKEN)


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    words = [w for line in FIRST_NAMES_FILE.read_text(encoding="utf-8").splitlines()
             if not line.startswith("#") for w in line.split()]
    return frozenset(w.lower() for w in words)


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Words that are never names outside an introduction or a title: English stop words,
    NOT_NAMES and the clinical lexicon (knowledge/data), less the first names."""
    from knowledge.model import knowledge
    k = knowledge()
    phrases = [p for words in k.concepts.values() for p in words] + [a for n in k.nodes.values() for a in n.aliases]
    clinical = {w.strip("'’").lower() for p in phrases for w in re.split(r"[\s/-]+", p) if w}
    return frozenset(stop_words() | NOT_NAMES | EPONYMS | clinical) - first_names() - AMBIGUOUS


def _bare(word: str) -> str:
    return re.sub(r"['’]s$", "", word)


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS  # spaCy is loaded on first use only
    return frozenset(STOP_WORDS)


def _never(lower: str) -> bool:
    return lower in NOT_NAMES or lower in stop_words()


def _is_name_word(word: str, mode: str) -> bool:
    """mode: strong ("my name is"), title ("Dr"), context ("my son", "I'm") or anywhere."""
    lower = _bare(word).lower()
    if mode in ("strong", "title"):
        return not _never(lower) and (mode == "strong" or word[0].isupper() or lower not in EPONYMS)
    if lower in common_words():
        return False
    if word[0].isupper():
        return mode == "context" or (lower in first_names() and lower not in AMBIGUOUS)
    return lower in first_names() and (mode == "context" or lower not in AMBIGUOUS) and lower not in {"will", "may"}


def _is_surname(word: str, mode: str, first_lower: bool) -> bool:
    lower = _bare(word).lower()
    if word[0].isupper():
        return not _never(lower) if mode in ("strong", "title") else lower not in common_words()
    if mode == "strong" or (mode in ("title", "self") and first_lower):
        return lower not in common_words() and lower not in first_names()
    return False


def _take(text: str, start: int, mode: str = "context") -> Found | None:
    """The name that starts at `start` (one word, then up to two surname words), or None."""
    words: list[re.Match] = []
    for match in _WORD.finditer(text, start):
        if not words:
            if match.start() != start or not _is_name_word(match.group(), "context" if mode == "self" else mode):
                return None
        elif (text[words[-1].end():match.start()] != " " or len(words) == 3
              or not _is_surname(match.group(), mode, words[0].group()[0].islower())):
            break
        words.append(match)
        if match.group() != _bare(match.group()):
            break
    if not words:
        return None
    return Found(start, words[-1].start() + len(_bare(words[-1].group())), "PERSON")


def _after(pattern: re.Pattern, text: str, mode: str) -> list[Found]:
    found = (_take(text, m.end(), mode) for m in pattern.finditer(text))
    return [f for f in found if f]


def find_names(text: str) -> list[Found]:
    found = _after(_STRONG, text, "strong") + _after(_SELF, text, "self") + _after(_ASK, text, "context")
    found += _after(_RELATION, text, "context") + _after(_ROLE, text, "context") + _after(_TITLE, text, "title")
    found += _after(_SIGN_OFF, text, "context")
    for here in _HERE.finditer(text):
        before = list(_WORD.finditer(text, max(0, here.start() - 40), here.start()))
        for candidate in before[-2:]:
            name = _take(text, candidate.start(), "self")
            if name and text[name.end:here.start()].strip() == "":
                found.append(name)
                break
    bare = _BARE_START.match(text)
    if bare:
        found += [name for name in [_take(text, bare.start("name"), "context")] if name]
    # A known first name anywhere (capitalised, or lower case and not an everyday word).
    found += [name for m in _WORD.finditer(text) for name in [_take(text, m.start(), "anywhere")] if name]
    return found
