"""The learned reader: proposes red-flag findings that the rules did not read, as suggestive evidence.

Machine learning only reads language here; it never decides. A finding it proposes is SUGGESTED:
the flag's confirming question is asked at once, and the patient's answer and the rules in
knowledge/triage.py decide. It proposes only findings that the rules said nothing about in that
message (not present, denied, past, hypothetical or someone else's).

One logistic regression per red-flag finding over character and word n-grams (scikit-learn, which
Rasa already installs), trained on the dev splits of the blind triage benchmark
(benchmarks/data/triage/dev*_messages.yml; never the test split). `make spacy` (and the Docker
image's build) trains and saves it to build/learned/; without a current saved file it is trained
in memory (a few seconds).
"""
from __future__ import annotations

import hashlib
import logging
import pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from knowledge.model import LONG_STANDING, Knowledge, knowledge

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT / "benchmarks" / "data" / "triage"
TRAINING_FILES = "dev*_messages.yml"       # the dev splits only: the test split is never trained on
MODEL_PATH = REPO_ROOT / "build" / "learned" / "reader.pickle"
THRESHOLD = 0.7          # chosen on dev by leave-one-split-out: about 1 wrong proposal in 25 messages
MIN_EXAMPLES = 3         # a finding with fewer examples in the corpus is left to the rules
NOT_LEARNED = {"older_age", LONG_STANDING}   # read from a stated age or duration by the rules, never guessed


def training_files() -> list[Path]:
    return sorted(p for p in CORPUS.glob(TRAINING_FILES) if "test" not in p.name)


def _corpus_hash(files: list[Path], flags: list[str]) -> str:
    digest = hashlib.sha256(",".join(flags).encode())
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class LearnedReader:
    vectorizer: FeatureUnion
    models: dict[str, LogisticRegression]
    corpus_hash: str

    def propose(self, text: str) -> list[tuple[str, float]]:
        """Red-flag findings this message probably states, with the model's probability."""
        if not text.strip() or not self.models:
            return []
        features = self.vectorizer.transform([text])
        proposals = []
        for finding, model in self.models.items():
            probability = float(model.predict_proba(features)[0, 1])
            if probability >= THRESHOLD:
                proposals.append((finding, probability))
        return sorted(proposals, key=lambda item: -item[1])


def _flags(k: Knowledge) -> list[str]:
    return sorted(f for f in k.screened_findings if f not in NOT_LEARNED)


def train(files: list[Path] | None = None, k: Knowledge | None = None) -> LearnedReader:
    k = k or knowledge()
    files = training_files() if files is None else files
    messages = [m for path in files for m in yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]]
    texts = [str(m["text"]) for m in messages]
    vectorizer = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True)),
        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
    ])
    models: dict[str, LogisticRegression] = {}
    flags = _flags(k)
    if texts:
        features = vectorizer.fit_transform(texts)
        for finding in flags:
            labels = [1 if (m.get("findings") or {}).get(finding) == "present" else 0 for m in messages]
            if sum(labels) >= MIN_EXAMPLES:
                models[finding] = LogisticRegression(C=10, class_weight="balanced", max_iter=2000).fit(features, labels)
    return LearnedReader(vectorizer, models, _corpus_hash(files, flags))


def save(path: Path = MODEL_PATH) -> Path:
    reader = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(reader))
    return path


@lru_cache(maxsize=1)
def default_reader() -> LearnedReader | None:
    """The saved reader when it was trained on the current corpus (or when the corpus is not
    shipped, as in the Docker image, which trains it at build time), else one trained now; None
    (rules only) when there is neither."""
    files = training_files()
    try:
        reader = pickle.loads(MODEL_PATH.read_bytes())   # our own build output, never downloaded
    except (OSError, pickle.UnpicklingError, AttributeError, EOFError):
        reader = None
    if reader is not None and (not files or reader.corpus_hash == _corpus_hash(files, _flags(knowledge()))):
        return reader
    if not files:
        return None
    log.info("training the learned reader in memory (run `make spacy` to save it)")
    return train(files)
