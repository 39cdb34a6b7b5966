"""People's names in patient text, without a statistical model.

A name is taken where the text says it is one: "my name is ...", "I'm ...", "this is ... speaking",
"my son Tom", "my midwife is Kerry", "mum (Edna)", "Vikram (my dad)", "Aunty Comfort", "Dr Patel",
"Mrs J. Thornton", a form's label ("member ...", "Surname ...", "name on card ..."), a sign-off
("thanks, Aisha", "- Mandeep", "... my calf. Bernard"), "kev here", a capitalised pair at the start
("Sarah Jones, 52, ...") or between commas/brackets ("(Aoife Byrne)"), a name before pronouns
("Jordan (he/him)"), or a first name from storage/data/first_names.txt anywhere. Words that are common English or clinical (knowledge/data's
lexicon, drug names) are never names, except straight after "my name is"; a lone word shaped like an
adjective or nationality ("I'm Desperate", "I'm Polish") is a name only if it is a known first name.
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
mason carter cooper hunter victoria florence jordan georgia kerry jan comfort precious blessing
patience charity prudence temperance mercy felicity honour constance
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
sciatica dvt mri scan id dob mrn ssn tel mob rev revd reverend sir dame lady lord
tho tbf innit mate type vegan vegetarian surname forename firstname lastname name names address postcode email
phone mobile contact patient member ref reference policy details lol bk btw tbh omg pls plz thx thnx ur xx xxx fyi idk imo haha
""".split())
# Words that make a capitalised pair a place or organisation ("Meadowbank Practice").
ORGANISATIONS = frozenset("""
practice practices surgery clinic clinics centre center hospital hospitals infirmary pharmacy chemist
chemists medical health healthcare physiotherapy partnership partners group trust ltd limited plc inc
school college university academy gym leisure council
""".split())
# Nationalities and languages: "I'm German student" describes, it does not introduce.
NATIONALITIES = frozenset("""
german french dutch swiss greek thai czech slovak korean kenyan chilean mexican american african
moroccan cuban peruvian pakistani israeli iraqi iranian bangladeshi somali nepali kuwaiti saudi omani
yemeni qatari emirati afghan filipino filipina latino latina kiwi aussie scot scots brit welsh dane
swede finn pole turk arab asian caribbean jamaican ghanaian nigerian european catalan basque
""".split())
# Clinical eponyms: not names in "Baker's cyst" or "Thompson test", names after a title ("Mrs Thompson").
EPONYMS = frozenset("""
achilles baker bakers raynaud raynauds parkinson parkinsons crohn crohns sever severs homan homans
thompson guillain barre osgood schlatter addison addisons cushing cushings paget pagets
ehlers danlos marfan marfans bechterew sjogren sjogrens scheuermann scheuermanns perthes
sinding larsen hoffa charcot lisfranc tietze dupuytren dupuytrens
""".split())
_RELATIONS = (r"(?:(?:son|daughter|brother|sister|mother|father)[-\s]in[-\s]law|son|daughter|wife|husband|partner|mum|mom|mother|mam|dad|father|brother|sister|"
              r"nan|nana|nanna|gran|granny|grandma|grandmother|grandad|granddad|grandpa|grandfather|"
              r"grandson|granddaughter|boyfriend|girlfriend|fiance|fiancee|friend|neighbour|neighbor|"
              r"carer|aunt|auntie|uncle|niece|nephew|child|kid|little\s+girl|little\s+boy|baby|"
              r"colleague|boss|flatmate|housemate|cousin|aunty|step\s*(?:son|daughter|mum|dad))")
_KIN_TITLES = r"(?:aunty|auntie|aunt|uncle|nana|nanna|nan|granny|grandma|grandpa|grandad|cousin)"
_ROLES = r"(?:physio|physiotherapist|nurse|carer|consultant|gp|surgeon|midwife|osteo|osteopath|chiropractor|therapist)"
_TITLES = r"(?:mr|mrs|ms|mx|dr)"         # "dr patel": a lower-case surname counts after these
_WORD_TITLES = r"(?:miss|doctor|prof|professor|sister|rev|revd|reverend|sir|dame|lady|lord)"
_TOKEN = r"[^\W\d_]+(?:['’-][^\W\d_]+)*"
_UP = "[A-ZÀ-ÖØ-ÞĀĆČĎĐĒĘĚĞİŁŃŇŌŐŒŘŚŞŠŢŤŪŮŰŹŻŽ]"    # a capital letter, accented ones too
_STRONG = re.compile(
    r"\b(?:(?:my|his|her|their|\w+s|\w+'s)\s+(?:full\s+|first\s+|last\s+|real\s+|sur)?name(?:'s|s)?(?:\s+is)?"
    r"|my\s+names|name\s*[:\-]|name\s+(?:is|was)|name(?=\s+(?-i:[A-Z]))|patient(?:\s+name)?\s*:|pt\s+name\s*:|call\s+me)"
    r"\s*[:\-]?\s*", re.IGNORECASE)
_ASK = re.compile(r"\b(?:ask\s+for|speak\s+to|talk\s+to|text|contact)\s+", re.IGNORECASE)
_SELF = re.compile(r"\b(?:i\s*am|i'm|i’m|im|this\s+is|it's|it’s|its|it\s+is|hi|hiya|hello|hey|bonjour|salut|hola|ciao"
                   r"|hallo|ola|olá|namaste|salaam|salam|buongiorno|buenos\s+d[ií]as|guten\s+tag|dzie[nń]\s+dobry)"
                   r"\s+(?:its\s+|it's\s+)?", re.IGNORECASE)
_CALLED = r"(?:[,(]\s*|(?:is|was)\s+(?:called\s+)?|called\s+|named\s+)?"
_RELATION = re.compile(rf"\b(?:(?:my|our|his|her|their)\s+{_RELATIONS}s?\b\s*{_CALLED}|{_RELATIONS}\s*\(\s*"
                       rf"|{_RELATIONS}\s+of\s+)",
                       re.IGNORECASE)
_ROLE = re.compile(rf"\b(?:the\s+|my\s+)?{_ROLES}\b\s*{_CALLED}", re.IGNORECASE)
# "Vikram (my dad)", "Lewis Grant (my son, 17)", "Ngozi, my wife", "Tunde is my physio": the name just
# before a relation or role that describes it, or before pronouns ("Jordan (he/him)").
_BEFORE_RELATION = re.compile(rf"\s*(?:(?:[(,]|[-–—]|\s(?:is|was))\s*(?:my|our|his|her)\s+(?:{_RELATIONS}|{_ROLES})\b"
                              r"|\(\s*(?:he|she|they)\s*/\s*(?:him|her|them|they)\b)",
                              re.IGNORECASE)
# "son-in-law Rob", "phone daughter Maria": a relation with no "my" before a capitalised name.
_BARE_RELATION = re.compile(rf"\b{_RELATIONS}\s+(?={_UP})", re.IGNORECASE)
# Where a form or a message labels a name: capitalised words only ("member Gail Ferris", "Surname BRENNAN").
_LABEL = re.compile(
    r"\b(?:name\s+(?:as\s+)?on\s+(?:the\s+|my\s+)?(?:card|passport|it|account|licen[cs]e)|(?:account|card)\s*holder|(?:sur|fore|first\s+|last\s+|family\s+)name"
    r"|member|patient|pt|(?:booking|appointment|invoice|referral|bill)\s+for|(?<![\w'’])re\b\.?|reference|ref|contact(?:\s+(?:is|was))?"
    r"|attn|fao|signed|sent\s+by|(?:she|he)(?:\s+is|['’]s)|" + _KIN_TITLES + r")\s*[:\-]?\s*",
    re.IGNORECASE)
# "the Hartley household"
_FAMILY = re.compile(r"\bthe\s+(?=[A-Z]\w+\s+(?:family|household|residence|twins)\b)", re.IGNORECASE)
_TITLE = re.compile(rf"\b{_TITLES}\.?\s+", re.IGNORECASE)
_WORD_TITLE = re.compile(rf"\b{_WORD_TITLES}\.?\s+", re.IGNORECASE)
_SIGN_OFF = re.compile(r"\b(?:thanks|thank\s+you|thx|thnx|regards|cheers|best\s+wishes|kind\s+regards|many\s+thanks"
                       r"|love|best|ta)\s*[,!.]?\s*(?=(?:\S+\s*){1,3}$|[A-Z]\w+(?:\s+[A-Z]\w+)?\s*[.!,])", re.IGNORECASE)
# A name standing alone at the end ("... my calf. Bernard", "- Mandeep") or as a capitalised pair
# between commas or brackets (", Olga Ivanova.", "(Aoife Byrne)").
_END = re.compile(rf"(?:[.!?]\s+|(?:^|\s)[-–—]+\s*)(?={_UP}[^\W\d_]+(?:[\s-]{_UP}[^\W\d_]+){{0,2}}\s*[.!]?\s*$)")
# "- holly" closing a message: a lower-case sign-off counts for a known first name only.
_LOWER_END = re.compile(r"(?:^|\s)[-–—]+\s*(?=[a-z]+\s*[.!]?\s*$)")
_PAIR = re.compile(rf"(?:^|[,(:;|]\s*|\s[-–—]+\s*)(?={_UP}[a-zà-ÿ][^\W\d_]*(?:['’-][^\W\d_]+)*\s+{_UP}[a-zà-ÿ][^\W\d_]*"
                   r"(?:['’-][^\W\d_]+)*(?:\s*[,.)!;:|]|\s*$|\s+\d))")
_HERE = re.compile(r"(?<=\s)(?:here|speaking)\b", re.IGNORECASE)
_BARE_START = re.compile(rf"^\s*(?:[-–]\s*)?(?P<name>{_UP}[^\W\d_]*(?:['’-][^\W\d_]+)*(?:\s+{_UP}[^\W\d_]*(?:['’-][^\W\d_]+)*){{1,2}})\b"
                         r"(?=\s*(?:[,.(\-–]\s*)?\d{{1,3}}\b|\s*[,\-–]|\s*$)")
# "aisling o'brien, 07700 ...": a lower-case known first name and a surname opening the message.
_LOWER_START = re.compile(r"^\s*(?=[a-z]+\s+[a-z][a-z'’-]+\s*,)")
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
    return frozenset(stop_words() | NOT_NAMES | EPONYMS | NATIONALITIES | ORGANISATIONS | clinical) - first_names() - AMBIGUOUS


def _bare(word: str) -> str:
    return re.sub(r"['’]s$", "", word)


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS  # spaCy is loaded on first use only
    return frozenset(STOP_WORDS)


def _never(lower: str) -> bool:
    return lower in NOT_NAMES or lower in stop_words()


def _is_common(lower: str) -> bool:
    """An English or clinical word ("Osgood-Schlatter": any part an eponym, or every part common)."""
    parts = [p for p in re.split(r"[-’']", lower) if p] if "-" in lower else [lower]
    return (lower in common_words() or any(p in EPONYMS for p in parts)
            or (len(parts) > 1 and all(p in common_words() for p in parts)))


# Endings of adjectives and nationalities ("I'm Desperate", "I'm Polish", "I'm Gonna"): not names
# unless the word is a known first name.
_ADJECTIVE = re.compile(r"(?:ish|ese|ian|ed|ing|ous|ful|ive|ble|less|ate|ic|nna)$")
_PARTICIPLE = re.compile(r"(?:ed|ing)$")      # "Patient Reported Outcome"


def _is_name_word(word: str, mode: str) -> bool:
    """mode: strong ("my name is"), title ("Dr"), label ("member ..."), context ("my son", "I'm") or anywhere."""
    lower = _bare(word).lower()
    if mode == "strong":
        return not _never(lower)
    if mode == "title":
        return not _never(lower) and (word[0].isupper() or lower not in EPONYMS)
    if _is_common(lower):
        return False
    known = lower in first_names()
    if mode in ("label", "pair"):
        return word[0].isupper() and (len(word) > 2 or not word.isupper())
    if word[0].isupper():
        return mode == "context" or (known and lower not in AMBIGUOUS)
    return known and (mode == "context" or lower not in AMBIGUOUS) and lower not in {"will", "may"}


def _is_surname(word: str, mode: str, first: str) -> bool:
    lower, first_lower = _bare(word).lower(), first[0].islower()
    if word.isupper() and len(word) <= 4 and mode != "label" and not (first.isupper() and len(first) > 2):
        return False          # "DOB", "NHS": an abbreviation after a name (not "JONATHAN REID")
    if word[0].isupper():
        return not _never(lower) if mode in ("strong", "title") else not _is_common(lower)
    if mode == "strong":      # "my name is priya ramesh": a surname may also be a first name
        return lower not in common_words()
    if mode in ("title", "self", "intro") and first_lower:
        return lower not in common_words() and lower not in first_names()
    return False


# "im kelechi obi, 34": two lower-case words after an introduction that are neither English nor clinical.
_LOWER_NOT_NAME = re.compile(r"(?:ent|ant|al|ly|ness|ment|tion|sion|ity|er|est)$")
_LOWER_PAIR = re.compile(r"([a-z][a-z'’-]+) ([a-z][a-z'’-]+)(?=\s*(?:[,.!]|\d|$|\s+here\b))")


def _unknown_lower_word(word: str) -> bool:
    lower = _bare(word)
    return not (_never(lower) or _is_common(lower) or _ADJECTIVE.search(lower) or _LOWER_NOT_NAME.search(lower))


_INITIAL = re.compile(r"[A-Z]\.?\s+(?=[A-Z])")


def _take(text: str, start: int, mode: str = "context") -> Found | None:
    """The name that starts at `start` (up to two initials, one word, then up to two surname words), or None."""
    if re.search(r"\b(?:st|saint)\.?\s+\Z", text[max(0, start - 7):start], re.IGNORECASE):
        return None           # "St Thomas'" is a hospital
    name_start = start
    if mode == "intro":
        pair = _LOWER_PAIR.match(text, start)
        if pair and all(_unknown_lower_word(w) for w in pair.groups()):
            return Found(start, pair.end(), "PERSON")
    if mode in ("label", "title", "strong"):
        for _ in range(2):
            initial = _INITIAL.match(text, start)
            if initial and ("." in initial.group() or initial.group().strip().lower() not in ("i", "a")):
                start = initial.end()
    words: list[re.Match] = []
    for match in _WORD.finditer(text, start):
        if not words:
            if match.start() != start or not _is_name_word(match.group(), "context" if mode in ("self", "intro") else mode):
                return None
        elif (text[words[-1].end():match.start()] != " " or len(words) == 3
              or not _is_surname(match.group(), mode, words[0].group())):
            break
        words.append(match)
        if match.group() != _bare(match.group()):
            break
    if not words:
        return None
    first = _bare(words[0].group()).lower()
    if (mode in ("context", "self", "intro", "label", "pair") and words[0].group()[0].isupper() and first not in first_names()
            and (_ADJECTIVE if len(words) == 1 else _PARTICIPLE).search(first)):
        return None
    if mode == "pair" and len(words) < 2:
        return None
    return Found(name_start, words[-1].start() + len(_bare(words[-1].group())), "PERSON")


def _after(pattern: re.Pattern, text: str, mode: str) -> list[Found]:
    found = (_take(text, m.end(), mode) for m in pattern.finditer(text))
    return [f for f in found if f]


def find_names(text: str) -> list[Found]:
    found = _after(_STRONG, text, "strong") + _after(_SELF, text, "intro") + _after(_ASK, text, "context")
    found += _after(_RELATION, text, "context") + _after(_ROLE, text, "context") + _after(_TITLE, text, "title")
    found += _after(_WORD_TITLE, text, "label")
    found += _after(_SIGN_OFF, text, "context") + _after(_LABEL, text, "label") + _after(_FAMILY, text, "label")
    found += _after(_END, text, "label") + _after(_PAIR, text, "pair") + _after(_BARE_RELATION, text, "label")
    found += _after(_LOWER_END, text, "context")
    found += [name for name in _after(_LOWER_START, text, "self") if " " in text[name.start:name.end]]
    for relation in _BEFORE_RELATION.finditer(text):
        before = list(_WORD.finditer(text, max(0, relation.start() - 40), relation.start()))
        for candidate in before[-2:]:
            name = _take(text, candidate.start(), "label")
            if name and name.end == relation.start():
                found.append(name)
                break
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
