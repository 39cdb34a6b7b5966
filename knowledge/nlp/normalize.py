"""Word normalisation: light stemming plus typo correction towards the lexicon's words.

The same `canonical()` runs when the lexicon is compiled into patterns and on every patient word,
so "calfs", "calves" and "calf" meet at one form, and "numbess" is corrected to "numbness".
Typos are corrected only for longer words, only into lexicon words, only when one candidate is
closest, and never from a protected word (see lexicon.yaml).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

# Irregular forms, mapped to a base word that is then stemmed like any other.
IRREGULAR = {"calves": "calf", "feet": "foot", "teeth": "tooth", "swollen": "swell", "lying": "lie",
             "tingly": "tingle", "achy": "ache", "itchy": "itch", "sweaty": "sweat", "shivery": "shiver"}
# Kept as they are: "legs" usually means both legs, which matters for cauda equina.
KEEP = {"legs"}
_SUFFIXES = (("iness", "y"), ("ness", ""), ("ies", "y"), ("ied", "y"), ("ying", "y"), ("ing", ""),
             ("ed", ""), ("s", ""), ("ly", ""))
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})
_WORD_CHARS = re.compile(r"[^a-z0-9']+")


def stem(word: str) -> str:
    """A small, consistent suffix stripper (not linguistically exact; both sides use it)."""
    word = word.lower().translate(_APOSTROPHES).strip("'")
    if word in KEEP:
        return word
    word = IRREGULAR.get(word, word)
    if len(word) <= 3 or not word.isalpha():
        return word
    stripped = False
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                continue
            word = word[: -len(suffix)] + replacement
            stripped = True
            break
    # "throbbing" -> "throbb" -> "throb"; a base word keeps its double letter ("butt" is not "but").
    if stripped and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouylsz":
        word = word[:-1]
    if len(word) >= 4 and word.endswith("e"):
        word = word[:-1]
    return word


def surface(text: str) -> str:
    """Lower case with apostrophes unified and surrounding punctuation removed."""
    return _WORD_CHARS.sub("", text.lower().translate(_APOSTROPHES)).strip("'")


def _deletions(word: str, depth: int) -> set[str]:
    found, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent transpositions)."""
    previous2, previous = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb and previous2 is not None:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


class Normalizer:
    """Maps any word to the canonical form used by the pipeline's patterns."""

    def __init__(self, vocabulary: Iterable[str], protected: Iterable[str],
                 min_length_distance_1: int = 6, min_length_distance_2: int = 9):
        self.surfaces = sorted({surface(w) for w in vocabulary if surface(w)})
        self.stems = {stem(w) for w in self.surfaces}
        self.protected = {surface(w) for w in protected}
        self.min1, self.min2 = min_length_distance_1, min_length_distance_2
        self._index: dict[str, set[str]] = {}
        self._longest = max((len(w) for w in self.surfaces), default=0)
        for word in self.surfaces:
            if len(word) >= self.min1 - 1:
                for deleted in _deletions(word, 2 if len(word) >= self.min2 - 1 else 1):
                    self._index.setdefault(deleted, set()).add(word)
        self.canonical = lru_cache(maxsize=20000)(self._canonical)

    def to_dict(self) -> dict:
        return {"vocabulary": self.surfaces, "protected": sorted(self.protected),
                "min_length_distance_1": self.min1, "min_length_distance_2": self.min2}

    @classmethod
    def from_dict(cls, data: dict) -> "Normalizer":
        return cls(data["vocabulary"], data["protected"], data["min_length_distance_1"],
                   data["min_length_distance_2"])

    def _canonical(self, word: str, spacy_norm: str = "") -> str:
        """`spacy_norm` is spaCy's norm (it expands contractions: "n't" -> "not")."""
        base = surface(spacy_norm) if spacy_norm and surface(spacy_norm) != surface(word) else surface(word)
        if not base:
            return word.lower()
        stemmed = stem(base)
        if stemmed in self.stems or base in self.protected or len(base) < self.min1 or not base.isalpha():
            return stemmed
        corrected = self.correct(base)
        return stem(corrected) if corrected else stemmed

    def correct(self, word: str) -> str | None:
        """The single closest lexicon word within the allowed distance, or None."""
        max_distance = 2 if len(word) >= self.min2 else 1
        if len(word) > self._longest + max_distance:
            return None  # nothing is that close; and _deletions() grows with the cube of the length
        candidates = set()
        for deleted in _deletions(word, max_distance):
            candidates |= self._index.get(deleted, set())
        scored = sorted((edit_distance(word, c), c) for c in candidates)
        scored = [(d, c) for d, c in scored if d <= max_distance]
        if not scored:
            return None
        best = [c for d, c in scored if d == scored[0][0]]
        # Ambiguous corrections ("light" -> night/tight/right) are refused.
        return best[0] if len({stem(c) for c in best}) == 1 else None
