"""Read and validate the knowledge data files (knowledge/data/*.yaml) into the objects of
knowledge/model.py.

Every problem is reported as a KnowledgeError naming the file and the entry, so a clinician
editing YAML sees exactly what to fix.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from knowledge.model import (
    CONCEPT_ID,
    DATA_DIR,
    DATA_FILES,
    FINDING_KINDS,
    LEVELS,
    NODE_TYPES,
    Citation,
    DetectRule,
    Finding,
    Knowledge,
    KnowledgeError,
    Node,
    Question,
    RedFlag,
    Relation,
    RelationType,
    Source,
    TriageRule,
)
from knowledge.plan_loader import load_plan, load_presentations


class _Reader:
    """Pulls typed values out of one YAML file, raising errors that name file and entry."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise KnowledgeError(f"{path.name}: not valid YAML: {error}") from error
        if not isinstance(self.data, dict):
            raise KnowledgeError(f"{path.name}: expected a mapping at the top level")

    def fail(self, entry: str, problem: str) -> KnowledgeError:
        return KnowledgeError(f"{self.path.name}: {entry}: {problem}")

    def section(self, key: str, kind: type = dict) -> Any:
        value = self.data.get(key)
        if not isinstance(value, kind):
            raise self.fail(key, f"missing or not a {kind.__name__}")
        return value

    def text(self, entry: str, mapping: dict, key: str, required: bool = True) -> str:
        value = mapping.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(entry, f"'{key}' must be non-empty text")
        return value.strip()

    def words(self, entry: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(entry, "expected a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def citation(self, entry: str, value: Any, sources: dict[str, Source]) -> Citation:
        if not isinstance(value, dict):
            raise self.fail(entry, "missing 'source' ({doc, claim})")
        doc, claim = value.get("doc"), value.get("claim")
        if doc not in sources:
            raise self.fail(entry, f"source doc {doc!r} is not in sources.yaml")
        if not isinstance(claim, str) or not claim.strip():
            raise self.fail(entry, "source needs the 'claim' it rests on")
        return Citation(doc, claim.strip())

    def groups(self, entry: str, value: Any, known: Iterable[str], what: str) -> tuple[tuple[str, ...], ...]:
        """An and-of-ors: a list of lists of ids, each id known."""
        known = set(known)
        if not isinstance(value, list) or not value:
            raise self.fail(entry, "expected a non-empty list of lists")
        groups = []
        for group in value:
            items = self.words(entry, group)
            unknown = [i for i in items if i not in known]
            if unknown:
                raise self.fail(entry, f"unknown {what} {unknown}")
            groups.append(items)
        return tuple(groups)


def _load_sources(reader: _Reader) -> dict[str, Source]:
    sources = {}
    for sid, body in reader.section("sources").items():
        if not isinstance(body, dict):
            raise reader.fail(sid, "expected a mapping")
        sources[sid] = Source(sid, reader.text(sid, body, "title"), reader.text(sid, body, "publisher"),
                              reader.text(sid, body, "location"))
    return sources


def _load_graph(reader: _Reader, sources: dict[str, Source]):
    relation_types = {}
    for rid, body in reader.section("relation_types").items():
        subject, obj = body.get("subject"), body.get("object")
        for types in (subject, obj):
            if not isinstance(types, list) or not set(types) <= set(NODE_TYPES):
                raise reader.fail(f"relation_types.{rid}", f"types must be from {NODE_TYPES}")
        relation_types[rid] = RelationType(rid, tuple(subject), tuple(obj), reader.text(rid, body, "says"))

    nodes: dict[str, Node] = {}
    for index, body in enumerate(reader.section("nodes", list)):
        nid = body.get("id") if isinstance(body, dict) else None
        entry = f"nodes[{index}] {nid or ''}".strip()
        if not isinstance(nid, str) or not re.fullmatch(r"[a-z0-9_]+", nid):
            raise reader.fail(entry, "needs an 'id' of lower-case letters, digits and _")
        if nid in nodes:
            raise reader.fail(entry, "duplicate id")
        if body.get("type") not in NODE_TYPES:
            raise reader.fail(entry, f"'type' must be one of {NODE_TYPES}")
        nodes[nid] = Node(nid, body["type"], reader.text(entry, body, "name"), reader.text(entry, body, "about"),
                          reader.words(entry, body.get("aliases", [])),
                          reader.citation(entry, body.get("source"), sources))

    relations = []
    for index, body in enumerate(reader.section("relations", list)):
        entry = f"relations[{index}]"
        if not isinstance(body, dict):
            raise reader.fail(entry, "expected a mapping")
        subject, rel, obj = body.get("subject"), body.get("relation"), body.get("object")
        entry = f"relations[{index}] {subject} {rel} {obj}"
        if rel not in relation_types:
            raise reader.fail(entry, f"unknown relation type {rel!r}")
        for end, allowed in ((subject, relation_types[rel].subject_types), (obj, relation_types[rel].object_types)):
            if end not in nodes:
                raise reader.fail(entry, f"unknown node {end!r}")
            if nodes[end].type not in allowed:
                raise reader.fail(entry, f"{end} is a {nodes[end].type}; {rel} takes {allowed}")
        relations.append(Relation(subject, rel, obj, reader.citation(entry, body.get("source"), sources),
                                  str(body.get("qualifier", "")).strip()))
    return relation_types, nodes, tuple(relations)


def _load_lexicon(reader: _Reader):
    concepts = {}
    for cid, words in reader.section("concepts").items():
        if not CONCEPT_ID.match(str(cid)):
            raise reader.fail(cid, "concept ids look like category.name")
        concepts[cid] = reader.words(cid, words)
    answers = {kind: reader.words(f"answers.{kind}", words) for kind, words in reader.section("answers").items()}
    if set(answers) != {"affirm", "qualified_affirm", "deny", "unsure"}:
        raise reader.fail("answers", "needs exactly affirm, qualified_affirm, deny and unsure")
    patterns = reader.section("patterns")
    for key in ("age", "duration", "duration_ago"):
        try:
            re.compile(patterns.get(key, ""))
        except (re.error, TypeError) as error:
            raise reader.fail(f"patterns.{key}", f"not a valid regular expression: {error}") from error
    fuzzy = reader.section("fuzzy")
    protected = frozenset(w.lower() for w in reader.words("protected_words", reader.data.get("protected_words")))
    return concepts, protected, fuzzy, answers, patterns


def _load_findings(reader: _Reader, concepts: dict[str, tuple[str, ...]], nodes: dict[str, Node]) -> dict[str, Finding]:
    findings = {}
    raw = reader.section("findings")
    for fid, body in raw.items():
        if not isinstance(body, dict):
            raise reader.fail(fid, "expected a mapping")
        if body.get("kind") not in FINDING_KINDS:
            raise reader.fail(fid, f"'kind' must be one of {FINDING_KINDS}")
        rules = []
        for index, rule in enumerate(body.get("detect") or []):
            entry = f"{fid}.detect[{index}]"
            if not isinstance(rule, dict) or not rule.get("all"):
                raise reader.fail(entry, "needs 'all': a list of concepts")
            groups = tuple(tuple(alt.strip() for alt in group.split("|")) for group in reader.words(entry, rule["all"]))
            none = reader.words(entry, rule.get("none", []))
            unknown = [c for group in groups for c in group if c not in concepts] + [c for c in none if c not in concepts]
            if unknown:
                raise reader.fail(entry, f"unknown concepts {unknown}")
            scope = rule.get("scope", "clause")
            if scope not in ("clause", "sentence"):
                raise reader.fail(entry, "scope must be clause or sentence")
            rules.append(DetectRule(groups, none, scope, bool(rule.get("suggestive", False)), bool(rule.get("bare", False))))
        implies = reader.words(fid, body.get("implies", []))
        explained_by = str(body.get("explained_by", ""))
        if explained_by and explained_by not in nodes:
            raise reader.fail(fid, f"explained_by names unknown graph node {explained_by!r}")
        findings[fid] = Finding(fid, reader.text(fid, body, "label"), reader.text(fid, body, "ask"), body["kind"],
                                tuple(rules), bool(body.get("history_ok", False)), implies, explained_by,
                                tuple(w.lower() for w in reader.words(fid, body.get("named_by", []))))
    for finding in findings.values():
        missing = [i for i in finding.implies if i not in findings]
        if missing:
            raise reader.fail(finding.id, f"implies unknown findings {missing}")
    return findings


def _load_red_flags(reader: _Reader, findings: dict[str, Finding], sources: dict[str, Source]):
    version = reader.data.get("protocol_version")
    if not isinstance(version, str) or not version.strip():
        raise reader.fail("protocol_version", "must be a version string")
    if tuple(reader.data.get("levels", ())) != LEVELS:
        raise reader.fail("levels", f"must be {list(LEVELS)}")
    flags, seen_rules, seen_questions = {}, set(), set()
    for fid, body in reader.section("red_flags").items():
        if not isinstance(body, dict):
            raise reader.fail(fid, "expected a mapping")
        if body.get("level") not in LEVELS:
            raise reader.fail(fid, f"'level' must be one of {LEVELS}")
        cited = reader.words(fid, body.get("sources", []))
        bad = [s for s in cited if s not in sources]
        if not cited or bad:
            raise reader.fail(fid, f"needs sources from sources.yaml (unknown: {bad})")
        rules = []
        for index, rule in enumerate(body.get("rules") or []):
            rid = rule.get("id") if isinstance(rule, dict) else None
            entry = f"{fid}.rules[{index}] {rid or ''}".strip()
            if not isinstance(rid, str) or not rid.startswith(fid + "."):
                raise reader.fail(entry, f"rule id must start with '{fid}.'")
            if rid in seen_rules:
                raise reader.fail(entry, "duplicate rule id")
            seen_rules.add(rid)
            level = rule.get("level", body["level"])
            if level not in LEVELS:
                raise reader.fail(entry, f"'level' must be one of {LEVELS}")
            rules.append(TriageRule(rid, fid, level, reader.groups(entry, rule.get("when"), findings, "findings"),
                                    reader.words(entry, rule.get("unless", []))))
        if not rules:
            raise reader.fail(fid, "needs at least one rule")
        questions = []
        for index, q in enumerate(body.get("questions") or []):
            qid = q.get("id") if isinstance(q, dict) else None
            entry = f"{fid}.questions[{index}] {qid or ''}".strip()
            if not isinstance(qid, str) or not (qid == fid or qid.startswith(fid + "_")):
                raise reader.fail(entry, f"question id must be '{fid}' or start with '{fid}_'")
            if qid in seen_questions:
                raise reader.fail(entry, "duplicate question id")
            seen_questions.add(qid)
            items = reader.words(entry, q.get("items"))
            unknown = [i for i in items if i not in findings]
            if unknown:
                raise reader.fail(entry, f"unknown findings {unknown}")
            questions.append(Question(qid, fid, reader.text(entry, q, "intro"), items,
                                      reader.groups(entry, q.get("applies_if"), findings, "findings")))
        flags[fid] = RedFlag(fid, body["level"], reader.text(fid, body, "name"), reader.text(fid, body, "why"),
                             reader.text(fid, body, "watch_for"), cited, tuple(rules), tuple(questions))
    return version.strip(), flags, _load_unsure_levels(reader, sources)


def _load_unsure_levels(reader: _Reader, sources: dict[str, Source]) -> dict[str, str]:
    body = reader.section("unsure_answers")
    reader.citation("unsure_answers", body.get("source"), sources)
    levels = body.get("levels")
    if not isinstance(levels, dict) or not all(a in LEVELS and b in LEVELS and LEVELS.index(b) > LEVELS.index(a)
                                               for a, b in levels.items()):
        raise reader.fail("unsure_answers.levels", f"must map levels of {LEVELS} to less urgent ones")
    return dict(levels)


def _load_advice(reader: _Reader, sources: dict[str, Source]) -> dict[str, Any]:
    levels = reader.section("levels")
    if set(levels) != set(LEVELS):
        raise reader.fail("levels", f"needs advice for each of {LEVELS}")
    for level, body in levels.items():
        reader.text(f"levels.{level}", body, "headline")
        reader.citation(f"levels.{level}", body.get("source"), sources)
        if not isinstance(body.get("steps"), list):
            raise reader.fail(f"levels.{level}", "'steps' must be a list")
    for key in ("reason", "reason_unsure", "not_a_diagnosis", "self_care_reason", "plan_intro", "plan_intro_other",
                "plan_more", "which_intro", "proxy_question"):
        reader.text(key, reader.data, key)
    notices = reader.section("channel_notices")
    for key in ("emergency_line", "emergency_short", "urgent_line", "rate_limited", "fallback", "choose_prompt"):
        reader.text(f"channel_notices.{key}", notices, key)
    safety = reader.section("safety_net")
    for key in ("title", "emergency", "urgent", "routine", "closing", "book_if", "closing_plan"):
        reader.text(f"safety_net.{key}", safety, key)
    reader.citation("safety_net", safety.get("source"), sources)
    follow_up = reader.section("follow_up")
    for key in ("greeting", "ask_fallback", "self_care", "routine", "if_worse"):
        reader.text(f"follow_up.{key}", follow_up, key)
    reader.citation("follow_up", follow_up.get("source"), sources)
    return reader.data


def data_hash(data_dir: Path = DATA_DIR) -> str:
    digest = hashlib.sha256()
    for name in DATA_FILES:
        digest.update(name.encode())
        digest.update((data_dir / name).read_bytes())
    return digest.hexdigest()


def load_knowledge(data_dir: Path | str = DATA_DIR) -> Knowledge:
    data_dir = Path(data_dir)
    sources = _load_sources(_Reader(data_dir / "sources.yaml"))
    relation_types, nodes, relations = _load_graph(_Reader(data_dir / "graph.yaml"), sources)
    concepts, protected, fuzzy, answers, patterns = _load_lexicon(_Reader(data_dir / "lexicon.yaml"))
    findings = _load_findings(_Reader(data_dir / "findings.yaml"), concepts, nodes)
    version, flags, unsure_levels = _load_red_flags(_Reader(data_dir / "red_flags.yaml"), findings, sources)
    advice = _load_advice(_Reader(data_dir / "advice.yaml"), sources)
    plan, max_steps = load_plan(_Reader(data_dir / "plan.yaml"), nodes, findings, sources)
    presentations = load_presentations(_Reader(data_dir / "presentations.yaml"), findings, plan, flags, nodes, sources)
    frames_reader = _Reader(data_dir / "explanations.yaml")
    frames = {key: frames_reader.text(f"frames.{key}", frames_reader.section("frames"), key)
              for key in frames_reader.section("frames")}
    explain_first = frames_reader.words("explain_first", frames_reader.section("explain_first", list))
    if unknown := [f for f in explain_first if f not in findings]:
        raise frames_reader.fail("explain_first", f"unknown findings {unknown}")
    return Knowledge(sources, relation_types, nodes, relations, concepts, protected, fuzzy, answers, patterns,
                     findings, version, flags, unsure_levels, advice, plan, frames, presentations, max_steps,
                     explain_first, data_hash(data_dir))
