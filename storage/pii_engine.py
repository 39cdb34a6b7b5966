"""Presidio's analyser, set up to run offline on the project's own spaCy pipeline.

Presidio brings the checksum-checked recognisers (UK NHS number, US SSN, UK NI number, credit card by
Luhn, IBAN, phone numbers through `phonenumbers` for GB and US, emails, dates); the project's own name
and address rules (storage/pii_names.py, pii_addresses.py, pii_rules.py) run inside it as one recogniser.
Nothing is downloaded: spaCy loads build/spacy/... by path (only its tokenizer and sentencizer; it has
no statistical NER), the email check uses tldextract's bundled suffix list, and no URL recogniser runs.
"""
from __future__ import annotations

from pathlib import Path

from storage.pii_addresses import find_addresses
from storage.pii_names import find_names
from storage.pii_rules import Found, find_all

PIPELINE = Path(__file__).resolve().parents[1] / "build" / "spacy" / "en_clinic_triage-1.0.0"
SCORE_THRESHOLD = 0.4
# Presidio entity -> our kind (placeholders in storage/redaction.py).
KINDS = {"PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL", "DATE_TIME": "DATE", "UK_NHS": "ID",
         "US_SSN": "ID", "UK_NINO": "ID", "CREDIT_CARD": "CARD", "IBAN_CODE": "BANK"}
PROJECT_KINDS = ("PERSON", "PHONE", "EMAIL", "DATE", "ADDRESS", "POSTCODE", "ID", "CARD", "BANK")
# Presidio's date patterns that carry a year (its month/year and day-month patterns would take pain
# scores such as 7/10 and weeks such as 3/52).
DATE_PATTERNS_WITH_YEAR = 9


def project_rules(text: str) -> list[Found]:
    return find_names(text) + find_all(text) + find_addresses(text)


def build_analyzer():
    """An AnalyzerEngine with the recognisers above; raises if Presidio or the pipeline is missing."""
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        DateRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        NhsRecognizer,
        PhoneRecognizer,
        UkNinoRecognizer,
        UsSsnRecognizer,
    )

    offline_suffixes = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return offline_suffixes(pattern_text).fqdn != ""

    class ProjectPipelineEngine(SpacyNlpEngine):
        """The clinic's pipeline by path: its tokenizer and sentencizer, lemmas = lower-case words
        (Presidio compares context words with lemmas; the pipeline has no lemmatiser)."""

        def load(self) -> None:
            nlp = spacy.load(PIPELINE, exclude=[name for name in _pipe_names(PIPELINE) if name != "sentencizer"])
            self.nlp = {"en": nlp}

        def process_text(self, text: str, language: str):
            doc = self.nlp[language](text)
            for token in doc:
                token.lemma_ = token.lower_
            return self._doc_to_nlp_artifact(doc, language)

    class ProjectRules(EntityRecognizer):
        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            return [RecognizerResult(kind, start, end, 0.85) for start, end, kind in project_rules(text)]

    engine = ProjectPipelineEngine(ner_model_configuration=NerModelConfiguration(labels_to_ignore=["*"]))
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (NhsRecognizer(), UsSsnRecognizer(), UkNinoRecognizer(), CreditCardRecognizer(),
                       IbanRecognizer(), PhoneRecognizer(supported_regions=("GB", "US")), OfflineEmailRecognizer(),
                       DateRecognizer(patterns=DateRecognizer.PATTERNS[:DATE_PATTERNS_WITH_YEAR]),
                       ProjectRules(supported_entities=list(PROJECT_KINDS), name="ClinicRules")):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def _pipe_names(path: Path) -> list[str]:
    import json
    return json.loads((path / "meta.json").read_text(encoding="utf-8"))["pipeline"]


def analyze(analyzer, text: str) -> list[Found]:
    results = analyzer.analyze(text=text, language="en", score_threshold=SCORE_THRESHOLD)
    found = []
    for result in results:
        kind = KINDS.get(result.entity_type, result.entity_type)
        span = text[result.start:result.end]
        start = result.start + len(span) - len(span.lstrip())     # some patterns take a leading space
        if kind in PROJECT_KINDS:
            found.append(Found(start, result.start + len(span.rstrip()), kind))
    return found
