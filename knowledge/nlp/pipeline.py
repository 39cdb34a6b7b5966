"""Build, save and load the project's spaCy pipeline, and analyse text with it.

`python -m knowledge.nlp.pipeline build` writes build/spacy/<name>-<version>/, which Rasa's SpacyNLP
loads by path (bot/config.yml). The pipeline is compiled from knowledge/data only: blank English,
a sentencizer, our normaliser, two span rulers (concepts and graph topics), the findings composer
and the ConText assertion component. Its meta records a hash of the data it was built from.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from knowledge.model import LONG_STANDING, TIMED_COMPLAINT, Knowledge, knowledge
from knowledge.nlp import components as _components  # noqa: F401  (registers factories)
from knowledge.nlp.components import (
    CONCEPTS_KEY,
    FINDINGS_KEY,
    PARTS_KEY,
    SUGGESTIVE,
    TOPICS_KEY,
    CompiledRule,
    outermost,
)
from knowledge.nlp.context import Assertion
from knowledge.nlp.learned import default_reader
from knowledge.nlp.learned import save as save_learned_reader
from knowledge.nlp.normalize import Normalizer, surface

PIPELINE_NAME = "clinic_triage"
HEDGE_CONCEPT = "hedge.unsure"
CLAUSE_BREAKS = ("but", "though", "although", "however", ";")
HEDGE_WINDOW = 5        # tokens: "maybe a bit tingly", "numb down there, not sure"
PIPELINE_VERSION = "1.0.0"    # bump when components change; data changes are tracked by hash
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "build" / "spacy" / f"en_{PIPELINE_NAME}-{PIPELINE_VERSION}"


class PipelineOutOfDate(RuntimeError):
    """The saved pipeline was built from other knowledge data than the current files."""


def _vocabulary(k: Knowledge) -> set[str]:
    phrases = [w for words in k.concepts.values() for w in words] + [a for n in k.nodes.values() for a in n.aliases]
    return {word for phrase in phrases for word in phrase.replace("-", " ").split() if surface(word)}


def _token_patterns(nlp: Language, normalizer: Normalizer, phrase: str) -> list[dict]:
    doc = nlp.make_doc(phrase)
    return [{"NORM": normalizer.canonical(t.text, t.norm_)} for t in doc if not t.is_space]


def _compile_rules(k: Knowledge) -> list[CompiledRule]:
    return [CompiledRule(fid, rule.all, rule.none, rule.scope, rule.suggestive, rule.bare)
            for fid, finding in k.findings.items() for rule in finding.detect]


def build_pipeline(k: Knowledge | None = None) -> Language:
    k = k or knowledge()
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    normalizer = Normalizer(_vocabulary(k), set(k.protected_words) | set(nlp.Defaults.stop_words),
                            k.fuzzy["min_length_distance_1"], k.fuzzy["min_length_distance_2"])
    nlp.add_pipe("clinic_normalizer").normalizer = normalizer
    concept_ruler = nlp.add_pipe("span_ruler", name="concept_ruler",
                                 config={"spans_key": CONCEPTS_KEY, "phrase_matcher_attr": None, "validate": True})
    concept_ruler.add_patterns([{"label": cid, "pattern": _token_patterns(nlp, normalizer, phrase)}
                                for cid, phrases in k.concepts.items() for phrase in phrases])
    topic_ruler = nlp.add_pipe("span_ruler", name="topic_ruler",
                               config={"spans_key": TOPICS_KEY, "phrase_matcher_attr": None, "validate": True})
    topic_ruler.add_patterns([{"label": "topic", "id": node.id, "pattern": _token_patterns(nlp, normalizer, alias)}
                              for node in k.nodes.values() for alias in node.aliases])
    findings = nlp.add_pipe("clinic_findings")
    findings.rules = _compile_rules(k)
    findings.answers = {kind: list(words) for kind, words in k.answers.items()}
    findings.patterns = dict(k.patterns)
    findings._compile()
    nlp.add_pipe("clinic_context", config={"profile": "chat"})
    nlp.meta.update({"name": PIPELINE_NAME, "version": PIPELINE_VERSION,
                     "description": "Clinic triage: lay symptom concepts, findings and ConText assertions",
                     "clinic_data_sha256": k.data_hash})
    return nlp


def save_pipeline(path: Path = DEFAULT_PATH) -> Path:
    nlp = build_pipeline()
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(path)
    return path


def check_built(path: Path | str = DEFAULT_PATH, meta: dict | None = None) -> None:
    """Refuse a pipeline built from other knowledge data than the code now reads."""
    if meta is None:
        meta = json.loads((Path(path) / "meta.json").read_text(encoding="utf-8"))
    if meta.get("clinic_data_sha256") != knowledge().data_hash:
        raise PipelineOutOfDate(f"{path} was built from other knowledge data; run `make spacy` to rebuild it")


def load_pipeline(path: Path | str = DEFAULT_PATH, check_data: bool = True) -> Language:
    nlp = spacy.load(path)
    if check_data:
        check_built(path, nlp.meta)
    return nlp


@lru_cache(maxsize=1)
def default_pipeline() -> Language:
    """The saved pipeline when it is current, else one built in memory (tests, scripts)."""
    try:
        return load_pipeline(DEFAULT_PATH)
    except (OSError, PipelineOutOfDate):
        return build_pipeline()


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mention:
    """One finding mentioned in a message, with what the patient said about it."""
    finding: str
    status: str          # present | absent | past | hypothetical | other | suggested | uncertain
    start: int
    end: int
    text: str
    assertion: Assertion | None = None

    def as_dict(self) -> dict:
        data = {"finding": self.finding, "status": self.status, "start": self.start, "end": self.end,
                "text": self.text}
        if self.assertion is not None:
            data["assertion"] = {"negated": self.assertion.negated, "historical": self.assertion.historical,
                                 "hypothetical": self.assertion.hypothetical,
                                 "experiencer": self.assertion.experiencer}
        return data


@dataclass(frozen=True)
class Analysis:
    mentions: tuple[Mention, ...]
    topics: tuple[str, ...]
    answer: str | None
    course: str | None = None    # "long" or "short": how long a pain has lasted, said in the message


def status_of(assertion: Assertion, history_ok: bool) -> str:
    if assertion.experiencer != "patient":
        return "other"
    if assertion.hypothetical:
        return "hypothetical"
    if assertion.negated:
        return "absent"
    if assertion.historical and not history_ok:
        return "past"
    return "present"


def _back_pain_status(doc: Doc, mentions: list[Mention], start_char: int, end_char: int) -> str | None:
    """A duration says how long the back pain lasted only if back pain is in the same sentence,
    and it is whose and when that back pain is ("my dad has had back pain for 3 months")."""
    sentence = doc.char_span(start_char, end_char, alignment_mode="expand")[0].sent
    statuses = [m.status for m in mentions if m.finding == TIMED_COMPLAINT
                and doc.char_span(m.start, m.end, alignment_mode="expand")[0].sent == sentence]
    return "present" if "present" in statuses else next(iter(statuses), None)


def _course(numbers: dict, limits: dict) -> str | None:
    """ "long" for a length of time at the long-standing threshold or more, or a pain that keeps coming
    back ("4 months", "for ages", "on and off"); "short" for less ("about 3 weeks"); else None."""
    if numbers.get("recurring") or numbers.get("weeks", 0) >= limits["persistent_weeks"]:
        return "long"
    return "short" if "weeks" in numbers else None


def combined_assertion(doc: Doc, span) -> Assertion | None:
    """A finding's assertion: its anchor's, negated/past/hypothetical/someone else's if any of its
    symptom words is ("the pain isn't severe": severe pain is negated by "isn't severe")."""
    parts = {(p.start, p.end): p._.assertion for p in doc.spans.get(PARTS_KEY, [])}
    assertions = [span._.assertion] + [parts.get(part) for part in span._.finding_parts or ()]
    assertions = [a for a in assertions if a is not None]
    if not assertions:
        return None
    return Assertion(negated=any(a.negated for a in assertions),
                     historical=any(a.historical for a in assertions),
                     hypothetical=any(a.hypothetical for a in assertions),
                     experiencer="other" if any(a.experiencer == "other" for a in assertions) else "patient",
                     triggers=tuple(dict.fromkeys(t for a in assertions for t in a.triggers)))


# "my 3 year old", "my son is 9 years old", "she's 80": an age that is someone else's.
_SOMEONE_ELSES_AGE = re.compile(r"\b(?:my|our|his|her|their|she|he|she's|he's|shes|hes|son|daughter|child|kid|boy|girl|"
                                r"mum|mom|mam|dad|mother|father|husband|wife|partner|nan|gran|granny|grandad|grandpa|grandma|"
                                r"grandmother|grandfather|brother|sister|aunt|uncle|friend|neighbour)\b", re.IGNORECASE)


def _someone_elses(text: str, start: int, after: int = 0) -> str | None:
    """ "other" when a number ("she's 9", "his temp 38.5") is said of someone else, else None."""
    return "other" if _SOMEONE_ELSES_AGE.search(text[max(0, start - 30):start + after]) else None


def _clause_break_between(doc: Doc, a, b) -> bool:
    """ "I don't know if it's relevant but I can't feel it": a hedge does not reach over a "but"."""
    start, end = (a.end, b.start) if a.end <= b.start else (b.end, a.start)
    return any(token.lower_ in CLAUSE_BREAKS for token in doc[start:end])


def analyse_doc(doc: Doc, k: Knowledge | None = None, learned: bool = True) -> Analysis:
    """The findings the rules read, plus (learned=True) what the learned reader proposes about
    which the rules said nothing, as suggested only (knowledge/nlp/learned.py)."""
    k = k or knowledge()
    mentions = []
    hedges = [c for c in doc.spans.get(CONCEPTS_KEY, []) if c.label_ == HEDGE_CONCEPT]
    for span in doc.spans.get(FINDINGS_KEY, []):
        finding = k.findings[span.label_]
        assertion = combined_assertion(doc, span)
        status = status_of(assertion, finding.history_ok) if assertion is not None else "present"
        if status == "present" and span.kb_id_ == SUGGESTIVE:
            status = "suggested"
        if span.label_ == "under_16" and status == "present":
            status = "other"   # "my son", "my kid": the patient only if the writer chats for them
        if status in ("present", "suggested") and any(
                h.sent == span.sent and h.start - HEDGE_WINDOW <= span.start and span.end <= h.end + HEDGE_WINDOW
                and not _clause_break_between(doc, h, span)
                for h in hedges):
            status = "uncertain"   # "maybe a bit tingly on my bum": a sign they can't rule in or out
        mentions.append(Mention(span.label_, status, span.start_char, span.end_char, span.text, assertion))
    numbers = doc._.numbers or {}
    limits = k.patterns["thresholds"]
    if "age" in numbers:
        age = numbers["age"]
        start = numbers.get("age_span", [0, 0])[0]
        whose = _someone_elses(doc.text, start, after=3)
        if not whose:
            mentions.append(Mention("older_age", "present" if age >= limits["older_age_from"] else "absent",
                                    0, 0, str(age)))
        elif age >= limits["older_age_from"]:
            mentions.append(Mention("older_age", whose, 0, 0, str(age)))   # ("my son is 11" is no older age)
        if age < limits["child_under"]:
            mentions.append(Mention("under_16", whose or "present", 0, 0, str(age)))
    if "fever_span" in numbers and not any(m.finding == "fever" for m in mentions):
        start, end = numbers["fever_span"]
        mentions.append(Mention("fever", _someone_elses(doc.text, start) or "present", start, end,
                                doc.text[start:end]))   # "38.9 last night"
    back_pain = _back_pain_status(doc, mentions, *numbers["weeks_span"]) if "weeks" in numbers else None
    if back_pain:
        start, end = numbers["weeks_span"]
        long_standing = numbers["weeks"] >= limits["persistent_weeks"]
        mentions.append(Mention(LONG_STANDING, back_pain if long_standing else "absent", start, end,
                                doc.text[start:end]))
    if learned and (reader := default_reader()) is not None:
        read = {m.finding for m in mentions}
        mentions.extend(Mention(finding, "suggested", 0, 0, "") for finding, _ in reader.propose(doc.text)
                        if finding not in read)
    topics = tuple(dict.fromkeys(span.id_ for span in outermost(list(doc.spans.get(TOPICS_KEY, [])))))
    return Analysis(tuple(mentions), topics, doc._.answer, _course(numbers, limits))


def analyse(text: str, learned: bool = True) -> Analysis:
    """Findings (with assertion status), graph topics and yes/no polarity of one message."""
    return analyse_doc(default_pipeline()(text), learned=learned)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["build", "path", "check"])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    if args.command == "path":
        print(args.path)
    elif args.command == "check":
        load_pipeline(args.path)
        print(f"{args.path} is current")
    else:
        print(f"building spaCy pipeline {PIPELINE_NAME} {PIPELINE_VERSION} from knowledge/data ...", file=sys.stderr)
        path = save_pipeline(args.path)
        print(f"saved {path}", file=sys.stderr)
        print(f"saved the learned reader: {save_learned_reader()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
