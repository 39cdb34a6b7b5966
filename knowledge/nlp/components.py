"""spaCy components of the clinic pipeline. Importing this module registers their factories.

Pipeline order: sentencizer -> clinic_normalizer -> concept_ruler (span_ruler, key "concepts")
-> topic_ruler (span_ruler, key "topics") -> clinic_findings -> clinic_context.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import srsly
from spacy.language import Language
from spacy.tokens import Doc, Span

from knowledge.nlp import context as _context  # noqa: F401  (registers clinic_context)
from knowledge.nlp.normalize import Normalizer

FINDINGS_KEY, PARTS_KEY, CONCEPTS_KEY, TOPICS_KEY = "findings", "finding_parts", "concepts", "topics"
# Words and marks that end a clause for the purpose of pairing a symptom with a body part.
CLAUSE_BREAKS = {"and", "but", "also", "plus", "though", "although", "however", "whereas", "while", "then",
                 "yet", ",", ";", ":", "-", "--", "(", ")", "as", "so", "because", "cos", "cause"}
BOTH_SIDES = {"site.both_legs", "side.both"}
_FILLERS = re.compile(r"^(?:(?:right(?=[\s,]+so\b)|well|um+|erm+|uh+|hmm+|oh|ah|ok|okay|so|honestly|actually|i mean)[\s,.!]+)+")
_ANSWER_CLEAN = re.compile(r"[^\w\s']+")

for extension in ("answer", "numbers"):
    if not Doc.has_extension(extension):
        Doc.set_extension(extension, default=None)
for extension in ("finding_rule", "finding_parts"):
    if not Span.has_extension(extension):
        Span.set_extension(extension, default=None)


# ---------------------------------------------------------------------------------------------
class NormalizerComponent:
    """Sets token.norm_ to the canonical (stemmed, typo-corrected) form the rulers match on."""

    def __init__(self, normalizer: Normalizer | None = None):
        self.normalizer = normalizer

    def __call__(self, doc: Doc) -> Doc:
        canonical = self.normalizer.canonical
        for token in doc:
            token.norm_ = canonical(token.text, token.norm_)
        return doc

    def to_disk(self, path, exclude=()):
        Path(path).mkdir(parents=True, exist_ok=True)
        srsly.write_json(Path(path) / "normalizer.json", self.normalizer.to_dict())

    def from_disk(self, path, exclude=()):
        self.normalizer = Normalizer.from_dict(srsly.read_json(Path(path) / "normalizer.json"))
        return self


@Language.factory("clinic_normalizer")
def make_normalizer(nlp: Language, name: str) -> NormalizerComponent:
    return NormalizerComponent()


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CompiledRule:
    finding: str
    groups: tuple[tuple[str, ...], ...]
    none: tuple[str, ...]
    scope: str
    suggestive: bool = False     # only suggests the finding: its confirming question decides
    bare: bool = False           # a body part on its own


SUGGESTIVE = "suggestive"


class FindingsComponent:
    """Turns concept spans into finding spans (doc.spans["findings"], label = finding id).

    A rule matches when each of its concept groups is present in the same clause (or sentence).
    A clause naming no body part borrows one from the nearest clause of its sentence ("my calf is
    swollen and red"). The finding's span is its anchor concept; its other symptom words (not
    body parts) go to doc.spans["finding_parts"], so "the redness isn't spreading" or "the pain
    isn't severe" can be judged negated by the words that are. Also reads the patient's age and how long pain has lasted, and the
    polarity of a yes/no answer (doc._.answer).
    """

    def __init__(self, rules: list[CompiledRule] | None = None, answers: dict | None = None,
                 patterns: dict | None = None):
        self.rules = rules or []
        self.answers = answers or {}
        self.patterns = patterns or {}
        self._compile()

    def _compile(self) -> None:
        phrases = [(phrase, kind) for kind, words in self.answers.items() for phrase in words]
        self._answer_phrases = sorted(phrases, key=lambda item: -len(item[0]))
        def optional(key: str) -> re.Pattern | None:
            return re.compile(self.patterns[key], re.I) if self.patterns.get(key) else None
        self._age, self._fever, self._recent = optional("age"), optional("fever_temperature"), optional("recent_onset")
        self._durations = [pattern for pattern in map(optional, ("duration", "duration_ago", "duration_reply")) if pattern]
        self._long_words, self._recurring = optional("duration_long_words"), optional("recurring_words")

    # -- serialisation --
    def to_disk(self, path, exclude=()):
        Path(path).mkdir(parents=True, exist_ok=True)
        srsly.write_json(Path(path) / "findings.json", {
            "rules": [{"finding": r.finding, "groups": r.groups, "none": r.none, "scope": r.scope,
                       "suggestive": r.suggestive, "bare": r.bare} for r in self.rules],
            "answers": self.answers, "patterns": self.patterns})

    def from_disk(self, path, exclude=()):
        data = srsly.read_json(Path(path) / "findings.json")
        self.rules = [CompiledRule(r["finding"], tuple(tuple(g) for g in r["groups"]), tuple(r["none"]), r["scope"],
                                   bool(r.get("suggestive")), bool(r.get("bare")))
                      for r in data["rules"]]
        self.answers, self.patterns = data["answers"], data["patterns"]
        self._compile()
        return self

    # -- processing --
    def __call__(self, doc: Doc) -> Doc:
        concepts = outermost(list(doc.spans.get(CONCEPTS_KEY, [])))
        found: list[Span] = []
        parts: list[Span] = []
        taken: set[tuple[str, int, int]] = set()
        for sentence in doc.sents:
            in_sentence = [c for c in concepts if c.start >= sentence.start and c.end <= sentence.end]
            clauses = _clauses(doc, sentence, in_sentence)
            for rule in self.rules:
                for own, borrowed in ([(in_sentence, [])] if rule.scope == "sentence" else clauses):
                    matched = _match(rule, own, borrowed)
                    if matched is not None:
                        anchor, others = matched
                        if (rule.finding, anchor.start, anchor.end) in taken:
                            continue   # an earlier (decisive) rule already read these words
                        taken.add((rule.finding, anchor.start, anchor.end))
                        # Span extensions are keyed by offsets, so whether the reading is only
                        # suggestive travels in the span's own kb_id.
                        if rule.bare and sentence.text.rstrip().endswith("?"):
                            continue   # "what is the soleus?" asks about the body, it reports nothing
                        span = Span(doc, anchor.start, anchor.end, label=rule.finding,
                                    kb_id=SUGGESTIVE if rule.suggestive else "")
                        span._.finding_rule = rule
                        span._.finding_parts = [(o.start, o.end) for o in others]
                        found.append(span)
                        parts.extend(Span(doc, o.start, o.end, label="part") for o in others)
        doc.spans[FINDINGS_KEY] = _unique(found)
        doc.spans[PARTS_KEY] = _unique(parts)
        doc._.numbers = self._numbers(doc.text)
        doc._.answer = self._answer(doc.text)
        return doc

    def _numbers(self, text: str) -> dict:
        numbers = {}
        if self._fever and (match := self._fever.search(text)):
            numbers["fever_span"] = [match.start(), match.end()]
        if self._age and (match := self._age.search(text)):
            numbers["age"] = int(next(g for g in match.groups() if g))
            numbers["age_span"] = [match.start(), match.end()]
        match = next((m for pattern in self._durations if (m := pattern.search(text))), None)
        if match:
            amount, unit = match.group(1).lower(), match.group(2).lower()
            count = int(amount) if amount.isdigit() else self.patterns["number_words"].get(amount, 1)
            numbers["weeks"] = round(count * self.patterns["unit_weeks"][unit], 1)
            numbers["weeks_span"] = [match.start(), match.end()]
        elif self._recent and (match := self._recent.search(text)):
            numbers["weeks"] = self.patterns["unit_weeks"]["day"]   # a day or a few: not long-standing
            numbers["weeks_span"] = [match.start(), match.end()]
        elif self._long_words and (match := self._long_words.search(text)):
            numbers["weeks"] = self.patterns["unit_weeks"]["month"] * 2   # "for months": two at least
            numbers["weeks_span"] = [match.start(), match.end()]
        if self._recurring and self._recurring.search(text):
            numbers["recurring"] = True
        return numbers

    def _answer(self, text: str) -> str | None:
        """affirm / qualified_affirm / deny / unsure from how the message starts, else None."""
        cleaned = _ANSWER_CLEAN.sub(" ", text.lower().replace("’", "'")).strip()
        cleaned = _FILLERS.sub("", " ".join(cleaned.split()))
        for phrase, kind in self._answer_phrases:
            if cleaned == phrase or cleaned.startswith(phrase + " ") and not _goes_on(phrase, text):
                return kind
        return None


_SUBJECTS = ("i ", "it ", "they ", "that ", "he ", "she ", "we ")


def _goes_on(phrase: str, text: str) -> bool:
    """A subject-and-verb answer ("i did", "it is") that runs on into a sentence is no answer:
    "I did, twice" says yes, "I did a 100km ride" tells a story."""
    if not phrase.startswith(_SUBJECTS):
        return False
    found = re.search(r"\b" + r"\W+".join(map(re.escape, phrase.split())) + r"\b\s*(\w?)", text.lower().replace("’", "'"))
    return bool(found and found.group(1))


def outermost(spans: list[Span]) -> list[Span]:
    """Drop concept spans lying inside a longer one ("back" inside "back of my leg")."""
    spans = sorted(spans, key=lambda s: (s.start, -(s.end - s.start)))
    kept: list[Span] = []
    for span in spans:
        if any(k.start <= span.start and span.end <= k.end and (k.end - k.start) > (span.end - span.start)
               for k in kept):
            continue
        kept.append(span)
    return kept


def _clauses(doc: Doc, sentence: Span, concepts: list[Span]) -> list[tuple[list[Span], list[Span]]]:
    """Split a sentence into clauses; return (own concepts, borrowed body parts) per clause."""
    inside_concept = {i for c in concepts for i in range(c.start, c.end)}
    bounds, start = [], sentence.start
    for token in sentence:
        if token.lower_ in CLAUSE_BREAKS and token.i not in inside_concept:
            if token.i > start:
                bounds.append((start, token.i))
            start = token.i + 1
    if start < sentence.end:
        bounds.append((start, sentence.end))
    own = [[c for c in concepts if a <= c.start < b] for a, b in bounds]
    sites = [[c for c in group if c.label_.startswith("site.")] for group in own]
    result = []
    for index, group in enumerate(own):
        borrowed: list[Span] = []
        if not sites[index]:
            order = list(range(index - 1, -1, -1)) + list(range(index + 1, len(own)))
            borrowed = next((sites[i] for i in order if sites[i]), [])
        elif index and all(c.label_ in BOTH_SIDES and c[0].lower_ in ("both", "each") for c in group):
            # "the left leg has tingling too, both legs now": the symptom said just before
            borrowed = [c for c in own[index - 1] if c.label_.startswith("sym.")]
        result.append((group, borrowed))
    return result


def _match(rule: CompiledRule, own: list[Span], borrowed: list[Span]) -> tuple[Span, list[Span]] | None:
    """The anchor concept and the other symptom words of a rule's match, or None."""
    own_labels = {c.label_ for c in own}
    if own_labels & set(rule.none):
        return None
    available = own + borrowed
    hits = []
    for group in rule.groups:
        hit = next((c for c in available if c.label_ in group), None)
        if hit is None:
            return None
        hits.append(hit)
    own_hits = [h for h in hits if h in own]
    if not own_hits:  # every matched concept was borrowed: the clause itself says nothing
        return None
    others = [h for h in own_hits[1:] if not h.label_.startswith(("site.", "side."))]
    return own_hits[0], others


def _unique(spans: list[Span]) -> list[Span]:
    seen, unique = set(), []
    for span in spans:
        key = (span.label_, span.start, span.end)
        if key not in seen:
            seen.add(key)
            unique.append(span)
    return unique


@Language.factory("clinic_findings")
def make_findings(nlp: Language, name: str) -> FindingsComponent:
    return FindingsComponent()
