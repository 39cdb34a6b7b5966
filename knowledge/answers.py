"""How a reply answers a question: yes / no / not sure, and which items of a several-item question
it names. Deterministic word lists first; the intent classifier only where they find nothing
(knowledge.turns.Turn.polarity). No Rasa import."""
from __future__ import annotations

import re
from typing import Iterable

from knowledge.model import Knowledge

NAMING_REPLY_WORDS = 3         # "both legs", "the peeing one": a reply this short names items by their words
MAX_WORDS_READ_ANYWHERE = 12   # a longer reply is a story, not an answer
ASKS_BACK_WORDS = 3            # "maybe?" hedges; "probably just a trapped nerve?" asks back
# Words that answer wherever they stand in a short reply ("the crash was in 2015, nothing recent").
STORY_YES = ("yes", "yeah", "yep", "yup")
STORY_NO = ("no", "nope", "nah", "not sure", "dont know", "no idea", "not really")
AFFIRM_ANYWHERE = ("yes", "yeah", "yep", "yup", "definitely", "absolutely", "correct", "afraid so", "sadly yes")
DENY_ANYWHERE = ("no", "nope", "nah", "not really", "not at all", "never", "none", "nothing", "neither",
                 "dont think so", "not that i know", "not recently", "nothing recent", "nothing like that", "on purpose",
                 "deliberately", "intentionally", "im dieting", "on a diet")
# Messages that are not attempts to answer (a question back, asking for a person, small talk).
NOT_ANSWERS = {"ask_question", "ask_plan_detail", "request_human", "give_contact", "bot_challenge", "greet", "thank",
               "goodbye"}

WORD = re.compile(r"[a-z]+")
_ALL_ITEMS = re.compile(r"\b(?:all|both|each) of (?:them|those|these|the above)\b|\beverything\b|\ball (?:three|four|five)\b")
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4}
_NOT_KEYWORDS = {"your", "you", "the", "and", "that", "when", "with", "without", "being", "feeling", "having",
                 "new", "not", "able", "such", "last", "few", "for", "days", "in", "on", "or", "of", "a", "to",
                 "like", "time", "long", "past", "now", "need", "leg", "calf", "one", "weeks", "trouble", "pain"}


def word_count(text: str) -> int:
    return len(WORD.findall(text.lower()))


def says(text: str, phrases: Iterable[str]) -> bool:
    """Whether the text says one of the phrases as whole words (apostrophes and punctuation ignored)."""
    words = f" {' '.join(WORD.findall(text.lower().replace(chr(39), '')))} "
    return any(f" {' '.join(WORD.findall(p.lower().replace(chr(39), '')))} " in words for p in phrases)


def polarity_anywhere(text: str, k: Knowledge) -> str | None:
    """A short reply's yes/no/unsure said anywhere in it; both yes and no words read as unsure; a
    question back has none."""
    if asks_back(text):
        return None
    if word_count(text.replace("'", "")) > MAX_WORDS_READ_ANYWHERE:
        # a story is no answer, unless it says yes in so many words ("well now you ask ... but
        # yes, my bum feels kind of numb"; "she says yes, ...") and no no
        return "affirm" if says(text, STORY_YES) and not says(text, STORY_NO) else None
    if says(text, (p for p in k.answers["unsure"] if len(p) > 2 and re.fullmatch(r"[a-z' ]+", p))):
        return "unsure"
    deny, affirm = says(text, DENY_ANYWHERE), says(text, AFFIRM_ANYWHERE)
    if deny and affirm:
        return "unsure"
    return "deny" if deny else ("affirm" if affirm else None)


def asks_back(text: str) -> bool:
    """A question back ("probably just a trapped nerve?"), not a hedged answer ("maybe?")."""
    return text.rstrip().endswith("?") and word_count(text) > ASKS_BACK_WORDS


def reply_polarity(turn, k: Knowledge) -> str | None:
    """The turn's yes/no/unsure: how it starts or its intent, else a story's explicit yes; a no
    the patient corrects to a yes in the same reply ("no... actually hang on, yes") is a yes. A
    question back answers nothing, even with a hedge word in it."""
    if turn.polarity == "unsure" and asks_back(turn.text):
        return None
    if turn.polarity == "deny" and re.search(k.patterns["corrected_to_yes"], turn.text.lower()):
        return "affirm"
    if turn.polarity or turn.intent in NOT_ANSWERS or word_count(turn.text) <= MAX_WORDS_READ_ANYWHERE:
        return turn.polarity
    return polarity_anywhere(turn.text, k)


def _same_word(a: str, b: str) -> bool:
    """Crude stemming: "numb" ~ "numbness", "pee" ~ "peeing"."""
    shared = min(4, len(a), len(b))
    return shared >= 3 and a[:shared] == b[:shared]


def items_named(question, text: str, k: Knowledge) -> set[str]:
    """Items of a several-item question that a free-text reply names by their own words ("yes the
    peeing one", "both legs") or by position ("the second one")."""
    words = [w for w in WORD.findall(text.lower()) if len(w) >= 3 and w not in _NOT_KEYWORDS]
    keywords = {item: {w for w in WORD.findall(" ".join((k.findings[item].ask, *k.findings[item].named_by)).lower())
                       if len(w) >= 3 and w not in _NOT_KEYWORDS} for item in question.items}
    named = set()
    for item, own in keywords.items():
        others = set().union(*(v for i, v in keywords.items() if i != item))
        distinctive = {w for w in own if not any(_same_word(w, o) for o in others)}
        if any(_same_word(w, kw) for w in words for kw in distinctive):
            named.add(item)
    if _ALL_ITEMS.search(text.lower()):
        named |= set(question.items)
    for word in words:
        if word in _ORDINALS and _ORDINALS[word] < len(question.items):
            named.add(question.items[_ORDINALS[word]])
    return named
