"""ConText assertion: is a finding negated, historical, hypothetical, or someone else's?

A lean take on ConText (Harkema et al., J Biomed Inform 2009), itself built on NegEx
(Chapman et al. 2001), running on spaCy's Matcher. All trigger terms live in
knowledge/data/context_rules.yaml; this module only applies them:

1. Every rule is matched case-insensitively on the tokenizer's NORM (so "don't", "dont" and
   "do not" share the norm "not"), with any run of whitespace allowed between a term's words.
2. Matches overlapping the span itself are dropped: in "can't feel it when I wipe" the "can't"
   is part of the symptom, not a negation of it.
3. Per category, overlapping matches are resolved longest first, so a pseudo-trigger
   ("no change") hides the trigger it contains ("no").
4. A trigger modifies a span in its direction (forward, backward or both) up to the end of
   the sentence, unless a termination term or pseudo-trigger of its category comes between
   (a termination term counts where it starts, so ", can't pee" ends a scope before the
   finding it runs into), or the span lies beyond the rule's token window (if it has one).
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import spacy
import yaml
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.pipeline import Sentencizer
from spacy.tokens import Doc, Span

DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "data" / "context_rules.yaml"

NEGATED = "NEGATED_EXISTENCE"
HISTORICAL = "HISTORICAL"
HYPOTHETICAL = "HYPOTHETICAL"
OTHER_EXPERIENCER = "OTHER_EXPERIENCER"
CATEGORIES = (NEGATED, HISTORICAL, HYPOTHETICAL, OTHER_EXPERIENCER)
ALL_CATEGORIES = "ALL"  # a termination term or pseudo-trigger that applies to every category

FORWARD, BACKWARD, BIDIRECTIONAL = "FORWARD", "BACKWARD", "BIDIRECTIONAL"
TERMINATE, PSEUDO = "TERMINATE", "PSEUDO"
DIRECTIONS = (FORWARD, BACKWARD, BIDIRECTIONAL, TERMINATE, PSEUDO)
PROFILES = ("clinical", "chat")

RULE_KEYS = {"category", "direction", "terms", "patterns", "max_tokens", "note", "profiles"}

if not Span.has_extension("assertion"):
    Span.set_extension("assertion", default=None)


@dataclass(frozen=True)
class Assertion:
    negated: bool
    historical: bool
    hypothetical: bool
    experiencer: str  # "patient" or "other"
    triggers: tuple[str, ...]  # the trigger phrases that applied, for audit/debugging


class ContextRulesError(ValueError):
    """The rules file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Rule:
    category: str
    direction: str
    max_tokens: int | None  # window in non-space tokens between trigger and span; None = sentence


@dataclass(frozen=True)
class Trigger:
    start: int
    end: int
    rule: Rule


class ContextEngine:
    """Assertions for spans of text; `nlp` lends its tokenizer and, if it has one, its sentencizer."""

    def __init__(self, nlp: Language | None = None, rules_path: str | Path | None = None, profile: str = "clinical"):
        """`profile`: "clinical" (notes; the benchmark) or "chat" (patients); rules may name the
        profiles they belong to, e.g. "lasting weeks counts as history" is clinical only."""
        self.profile = profile
        if nlp is None:
            nlp = spacy.blank("en")
            nlp.add_pipe("sentencizer")
        self.nlp = nlp
        self.rules_path = Path(rules_path) if rules_path else DEFAULT_RULES_PATH
        self._sentencizer = nlp.get_pipe("sentencizer") if nlp.has_pipe("sentencizer") else Sentencizer()
        self._rules: dict[int, Rule] = {}
        self._term_owner: dict[tuple[str, str], int] = {}  # (category, term) -> rule index
        self._matcher = Matcher(nlp.vocab)
        self._load_rules()

    def assess(self, text: str, start_char: int, end_char: int) -> Assertion:
        return self._assess_chars(text, [(start_char, end_char)])[0]

    def assess_doc(self, doc: Doc, spans: list[Span]) -> list[Assertion]:
        """Assess spans of a doc another pipeline made.

        The engine works on its own tokenization of doc.text (with the sentencizer's
        sentences), so upstream components that merge tokens or rewrite token norms
        (stemming, spelling correction) cannot hide a trigger.
        """
        return self._assess_chars(doc.text, [(span.start_char, span.end_char) for span in spans])

    def _assess_chars(self, text: str, char_spans: list[tuple[int, int]]) -> list[Assertion]:
        doc = self._sentencizer(self.nlp.make_doc(text))
        matches = [Trigger(start, end, self._rules[key]) for key, start, end in self._matcher(doc)]
        assertions = []
        for start_char, end_char in char_spans:
            span = doc.char_span(start_char, end_char, alignment_mode="expand")
            if span is None or not span.text.strip():
                raise ValueError(f"no words between characters {start_char} and {end_char} of {text!r}")
            assertions.append(self._assess_span(doc, span, matches))
        return assertions

    def _assess_span(self, doc: Doc, span: Span, matches: list[Trigger]) -> Assertion:
        sentence = doc[span.start].sent
        # words of the finding itself are no trigger ("can't pee"), nor part of a pseudo-trigger;
        # a termination ends a scope where it starts (", can't pee": the comma), so it may run on
        # into the finding
        outside = [t for t in matches if t.end <= span.start or t.start >= span.end
                   or (t.rule.direction == TERMINATE and t.start < span.start)]
        in_sentence = [t for t in outside if t.start >= sentence.start and t.end <= sentence.end]
        applied: list[Trigger] = []
        found = {}
        for category in CATEGORIES:
            triggers = _longest_first([t for t in in_sentence if t.rule.category in (category, ALL_CATEGORIES)])
            hits = _applicable(triggers, span, doc)
            found[category] = bool(hits)
            applied.extend(hits)
        return Assertion(
            negated=found[NEGATED],
            historical=found[HISTORICAL],
            hypothetical=found[HYPOTHETICAL],
            experiencer="other" if found[OTHER_EXPERIENCER] else "patient",
            triggers=tuple(_phrase(doc[t.start:t.end]) for t in sorted(applied, key=lambda t: t.start)),
        )

    def _load_rules(self) -> None:
        where = str(self.rules_path)
        try:
            data = yaml.safe_load(self.rules_path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ContextRulesError(f"{where}: cannot read rules: {error}") from error
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise ContextRulesError(f"{where}: expected a mapping with a 'rules' list")
        for index, entry in enumerate(data["rules"]):
            self._add_rule(index, entry, f"{where}: rules[{index}] {_describe(entry)}")

    def _add_rule(self, index: int, entry: object, where: str) -> None:
        if not isinstance(entry, dict):
            raise ContextRulesError(f"{where}: expected a mapping")
        unknown = set(entry) - RULE_KEYS
        if unknown:
            raise ContextRulesError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(RULE_KEYS)})")
        category, direction = entry.get("category"), entry.get("direction")
        if category not in (*CATEGORIES, ALL_CATEGORIES):
            raise ContextRulesError(f"{where}: category {category!r} is not one of {[*CATEGORIES, ALL_CATEGORIES]}")
        if direction not in DIRECTIONS:
            raise ContextRulesError(f"{where}: direction {direction!r} is not one of {list(DIRECTIONS)}")
        if category == ALL_CATEGORIES and direction not in (TERMINATE, PSEUDO):
            raise ContextRulesError(f"{where}: category {ALL_CATEGORIES} is only for {TERMINATE} or {PSEUDO}")
        max_tokens = entry.get("max_tokens")
        if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
            raise ContextRulesError(f"{where}: max_tokens must be a positive whole number, got {max_tokens!r}")
        terms, patterns = entry.get("terms", []), entry.get("patterns", [])
        if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
            raise ContextRulesError(
                f"{where}: terms must be a list of non-empty strings (quote words YAML reads as booleans: \"no\")")
        if not isinstance(patterns, list) or not (terms or patterns):
            raise ContextRulesError(f"{where}: needs a non-empty 'terms' and/or 'patterns' list")
        for term in terms:
            owner = self._term_owner.setdefault((category, term.lower()), index)
            if owner != index:
                raise ContextRulesError(f"{where}: term {term!r} is already listed in rules[{owner}]")
        profiles = entry.get("profiles", list(PROFILES))
        if not isinstance(profiles, list) or not set(profiles) <= set(PROFILES):
            raise ContextRulesError(f"{where}: profiles must be a list from {list(PROFILES)}")
        if self.profile not in profiles:
            return
        key = f"context_rule_{index}"
        try:
            self._matcher.add(key, [p for term in terms for p in self._term_patterns(term)] + patterns)
        except (ValueError, TypeError, KeyError) as error:
            raise ContextRulesError(f"{where}: invalid pattern: {error}") from error
        self._rules[self.nlp.vocab.strings[key]] = Rule(category, direction, max_tokens)

    def _term_patterns(self, term: str) -> list[list[dict]]:
        """Token patterns for a term, from its lower- and upper-case tokenization.

        spaCy splits "don't" into "do" + "n't" but keeps "DON'T" whole, so both are needed
        for ALL CAPS text; whitespace tokens (odd spacing) may sit between the words.
        """
        patterns = []
        for variant in {term.lower(), term.upper()}:
            words = [{"NORM": token.norm_} for token in self.nlp.make_doc(variant) if not token.is_space]
            pattern = [words[0]]
            for word in words[1:]:
                pattern += [{"IS_SPACE": True, "OP": "*"}, word]
            if pattern not in patterns:
                patterns.append(pattern)
        return patterns


def _longest_first(triggers: list[Trigger]) -> list[Trigger]:
    """Non-overlapping triggers, preferring longer ones, then pseudo-triggers, then earlier."""
    chosen: list[Trigger] = []
    taken: set[int] = set()
    for trigger in sorted(triggers, key=lambda t: (t.start - t.end, t.rule.direction != PSEUDO, t.start)):
        tokens = range(trigger.start, trigger.end)
        if taken.isdisjoint(tokens):
            chosen.append(trigger)
            taken.update(tokens)
    return sorted(chosen, key=lambda t: t.start)


def _applicable(triggers: list[Trigger], span: Span, doc: Doc) -> list[Trigger]:
    """The triggers (of one category, in the span's sentence) whose scope reaches the span."""
    stops = [t for t in triggers if t.rule.direction in (TERMINATE, PSEUDO)]
    applied = []
    for trigger in triggers:
        direction = trigger.rule.direction
        if trigger.end <= span.start and direction in (FORWARD, BIDIRECTIONAL):
            gap = (trigger.end, span.start)
        elif trigger.start >= span.end and direction in (BACKWARD, BIDIRECTIONAL):
            gap = (span.end, trigger.start)
        else:
            continue  # points away from the span, or is itself a stop
        if any(gap[0] <= stop.start and (stop.end <= gap[1] or stop.rule.direction == TERMINATE and stop.start < gap[1])
               for stop in stops):
            continue
        if trigger.rule.max_tokens is not None and _words(doc, *gap) > trigger.rule.max_tokens:
            continue
        applied.append(trigger)
    return applied


def _words(doc: Doc, start: int, end: int) -> int:
    return sum(not token.is_space for token in doc[start:end])


def _phrase(span: Span) -> str:
    return " ".join(span.text.split())


def _describe(entry: object) -> str:
    """How an error names a rules entry: its category, direction and first term."""
    if not isinstance(entry, dict):
        return repr(entry)
    terms = entry.get("terms")
    first = terms[0] if isinstance(terms, list) and terms else "<patterns>"
    return f"({entry.get('category')} {entry.get('direction')}, first term {first!r})"


@lru_cache(maxsize=1)
def default_engine() -> ContextEngine:
    return ContextEngine()


def assess(text: str, start_char: int, end_char: int) -> Assertion:
    """Assess text[start_char:end_char] with the shared default engine (blank English pipeline)."""
    return default_engine().assess(text, start_char, end_char)


class ContextComponent:
    """Pipeline component: sets span._.assertion on doc.ents, doc.spans["findings"] and
    doc.spans["finding_parts"]."""

    def __init__(self, engine: ContextEngine):
        self.engine = engine

    def __call__(self, doc: Doc) -> Doc:
        spans = list(doc.ents) + [span for key in ("findings", "finding_parts") if key in doc.spans
                                  for span in doc.spans[key]]
        for span, assertion in zip(spans, self.engine.assess_doc(doc, spans), strict=True):
            span._.assertion = assertion
        return doc


@Language.factory("clinic_context", default_config={"rules_path": None, "profile": "clinical"})
def make_clinic_context(nlp: Language, name: str, rules_path: str | None, profile: str) -> ContextComponent:
    return ContextComponent(ContextEngine(nlp, rules_path, profile))
