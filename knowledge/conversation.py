"""From a conversation to what the patient has told us: findings with status, consent, answers.

A conversation is a list of Turns (knowledge.turns reads them from Rasa's event JSON); how a reply
answers a question is read by knowledge.answers. No Rasa import.

How a turn updates the findings, in order:
1. If the bot had just asked a screening question, the reply's polarity answers it: no marks every
   item absent, "not sure" (or a hedge) marks the unknown items uncertain, yes marks a one-item
   question's item present; yes to a several-item question asks "which of these?" next (WHICH), and
   the answer to that names the items (a bare yes or an answer not understood there counts as yes
   to the whole question). A reply that answers nothing twice in a row counts as "not sure" (never
   as no). Polarity comes from the deterministic answer lexicon first; the intent classifier's
   affirm/deny/unsure is used only when the lexicon finds no answer.
2. Findings named in the message then apply on top (present beats absent within one message); a
   finding only suggested by an ambiguous word is SUGGESTED until its confirming question is
   answered.
3. Someone typing for the patient: another person's current symptoms count as the patient's once
   the writer says they are chatting for them (asked once, or said unasked: "asking for my mum").
Later turns override earlier ones: the patient may correct themselves.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from knowledge.answers import (
    NAMING_REPLY_WORDS,
    NOT_ANSWERS,
    STORY_YES,
    items_named,
    polarity_anywhere,
    reply_polarity,
    says,
    word_count,
)
from knowledge.model import LONG_STANDING, TIMED_COMPLAINT, Knowledge, Question, knowledge
from knowledge.triage import ABSENT, KNOWN, PRESENT, SUGGESTED, UNCERTAIN, WHICH, Outcome, evaluate
from knowledge.turns import Turn, turns_from_events

CONSENT_QUESTION = "consent"
PROXY_QUESTION = "proxy"
MISUNDERSTOOD_LIMIT = 2
MAX_ASKS = 3                   # a question is never asked a fourth time: still unanswered, it is unsure
# another person's age alone ("my son is 11") describes no symptoms
AGE_FINDINGS = ("under_16", "older_age")
MENTION_STATUS = {"present": PRESENT, "absent": ABSENT, "suggested": SUGGESTED, "uncertain": UNCERTAIN}
NOT_NOW = ("absent", "past", "hypothetical", "other")
_THIRD_PERSON = re.compile(r"\b(?:she|he|she's|he's|shes|hes|her|his|him)\b", re.IGNORECASE)


@dataclass
class ConversationState:
    findings: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)      # finding -> the words it came from
    consent: bool | None = None
    asked: list[str] = field(default_factory=list)              # questions asked so far, in order
    proxy: bool | None = None             # the writer is chatting for the person they describe
    others: dict[str, str] = field(default_factory=dict)        # another person's current findings
    misunderstood: dict[str, int] = field(default_factory=dict)  # question -> replies in a row not understood

    def outcome(self, k: Knowledge | None = None) -> Outcome:
        return evaluate(self.findings, k)

    @property
    def complaints(self) -> list[str]:
        k = knowledge()
        return [f for f, status in self.findings.items()
                if status == PRESENT and f in k.findings and k.findings[f].kind == "symptom"]

    @property
    def signs_to_confirm(self) -> list[str]:
        """Signs only suggested so far ("ok foot cold"): their confirming question comes next,
        never "tell me in your own words"."""
        k = knowledge()
        return [f for f, status in self.findings.items()
                if status == SUGGESTED and f in k.findings and k.findings[f].kind == "symptom"]

    @property
    def someone_else_described(self) -> bool:
        """Another person's current symptoms were described, and it is not settled whose they are."""
        k = knowledge()
        own = [f for f in self.complaints if f not in self.others]   # "came on out of nowhere" said of him too
        return self.proxy is None and not own and any(
            f in k.findings and not k.findings[f].history_ok and f not in AGE_FINDINGS for f in self.others)

    def adopt_others(self) -> None:
        for finding, status in self.others.items():
            if self.findings.get(finding) not in (PRESENT, ABSENT):
                self.findings[finding] = status
        self.others.clear()


def _apply_answer(state: ConversationState, turn: Turn, polarity: str | None, question: Question | None,
                  k: Knowledge) -> None:
    if turn.asked == CONSENT_QUESTION:
        if polarity in ("affirm", "deny"):
            state.consent = polarity == "affirm"
        return
    if turn.asked == PROXY_QUESTION:
        goes_on_about_them = any(status == "other" for _, status in turn.mentions) or (
            word_count(turn.text) > NAMING_REPLY_WORDS and _THIRD_PERSON.search(turn.text))
        if goes_on_about_them:
            state.proxy = True   # "no injury we know of, she says it hurts low down": still about her
        elif polarity in ("affirm", "deny"):
            state.proxy = polarity == "affirm"
        return
    if question is None:
        return
    # a reply that mentions an item names it; words that alone would only suggest it name it with
    # a yes ("yes, a 12 hour flight"), not without ("I get out of breath on the stairs, always have")
    present = ("present", "other") if state.proxy else ("present",)   # chatting for them: theirs is the patient's
    named = {finding for finding, status in turn.mentions if finding in question.items
             and (status in present or status in ("suggested", "uncertain") and polarity == "affirm")}
    if polarity == "unsure":
        # "hmm maybe? felt a bit hot and cold": what it names under the hedge is not sure either; an
        # item stated plainly beside it stays said ("a bit, since this afternoon - and yes, a sharp
        # pain in my chest"): with a yes in so many words, what it names plainly is present
        said_yes = says(turn.text, STORY_YES)
        named = {finding for finding, status in turn.mentions
                 if said_yes and finding in named and status in present}
    if len(question.items) > 1 and turn.intent not in NOT_ANSWERS and (
            polarity == "affirm" or state.findings.get(question.screen_finding) == WHICH
            or word_count(turn.text) <= NAMING_REPLY_WORDS):
        named |= items_named(question, turn.text, k)   # "yes, both legs"; "the peeing one"
    if len(question.items) == 1 and polarity is None and word_count(turn.text) <= NAMING_REPLY_WORDS \
            and says(turn.text, k.findings[question.items[0]].named_by):
        named.add(question.items[0])   # "white" to "has your foot gone cold, pale or blue?"
    for item in named:
        state.findings[item] = PRESENT
    if state.findings.get(question.screen_finding) == WHICH:
        _apply_which(state, question, turn, polarity, named)
        return
    ruled_out = {f for f, status in turn.mentions if f in question.items and status in NOT_NOW}
    if polarity is None and ruled_out and not named:
        polarity = "deny" if len(question.items) == 1 else None   # "the crash was in 2015"
        for item in ruled_out:
            state.findings.setdefault(item, ABSENT)
    if polarity is None and not named and turn.intent not in NOT_ANSWERS:
        polarity = polarity_anywhere(turn.text, k)   # "in 2015, nothing recent"
    about_items = {f for f, status in turn.mentions if f in question.items and status in ("present", "absent")}
    if polarity is None and not named and turn.intent not in NOT_ANSWERS:
        # A reply that answers nothing counts toward "not sure"; one that tells more of the story
        # ("2 days", "felt a grab in my calf") or rules out some items only does not, but no
        # question is asked a fourth time: what is still open is then "not sure" (never "no").
        answered_nothing = not ruled_out and not about_items
        if answered_nothing and not turn.mentions and not re.search(k.patterns["time_said"], turn.text.lower()):
            state.misunderstood[question.id] = state.misunderstood.get(question.id, 0) + 1
        if (not answered_nothing or state.misunderstood.get(question.id, 0) < MISUNDERSTOOD_LIMIT) \
                and state.asked.count(question.id) < MAX_ASKS:
            if answered_nothing:
                return
        else:
            polarity = "unsure"
    if polarity == "affirm":
        if len(question.items) == 1:
            state.findings[question.screen_finding] = PRESENT
            state.findings[question.items[0]] = PRESENT
        elif named:
            state.findings[question.screen_finding] = ABSENT   # answered: the named items are present
        else:
            state.findings[question.screen_finding] = WHICH
    elif polarity == "deny":
        state.findings[question.screen_finding] = ABSENT
        for item in question.items:
            if item not in named:   # "not really with it, keeps nodding off": the words name it
                state.findings[item] = ABSENT
    elif polarity == "unsure":
        state.findings[question.screen_finding] = UNCERTAIN
        for item in question.items:
            if state.findings.get(item) not in KNOWN:
                state.findings[item] = UNCERTAIN
    else:
        return
    state.evidence[question.screen_finding] = turn.text


def _apply_which(state: ConversationState, question, turn: Turn, polarity: str | None, named: set[str]) -> None:
    """The reply to "which of these?": the items named; otherwise yes to the whole question
    (the patient said yes already), no to all, or unsure."""
    if named:
        state.findings[question.screen_finding] = ABSENT   # answered; the named items are present
    elif polarity == "deny":
        state.findings[question.screen_finding] = ABSENT
        for item in question.items:
            if state.findings.get(item) not in KNOWN:
                state.findings[item] = ABSENT
    elif polarity == "unsure":
        state.findings[question.screen_finding] = UNCERTAIN
    else:
        state.findings[question.screen_finding] = PRESENT
    state.evidence[question.screen_finding] = turn.text


def conversation_state(turns: Iterable[Turn], k: Knowledge | None = None) -> ConversationState:
    k = k or knowledge()
    state = ConversationState()
    proxy_pattern = re.compile(k.patterns["proxy"], re.IGNORECASE)
    questions = {question.id: question for question in k.questions}
    for turn in turns:
        unsure_about = affirmed_about = ()
        writing_for_someone = bool(proxy_pattern.search(turn.text or ""))
        if turn.asked:
            state.asked.append(turn.asked)
            question, polarity = questions.get(turn.asked), reply_polarity(turn, k)
            if not (writing_for_someone and turn.asked != PROXY_QUESTION):
                _apply_answer(state, turn, polarity, question, k)   # "yes I'm asking for her" answers whose
            if question is not None:
                _settle_after_max_asks(state, question)
                unsure_about = question.items if polarity == "unsure" else ()
                affirmed_about = question.items if polarity == "affirm" else ()
        if state.proxy is None and writing_for_someone:
            state.proxy = True
        said: dict[str, str] = {}
        others: dict[str, str] = {}
        for finding, status in turn.mentions:
            if status == "other":
                others[finding] = PRESENT
                continue
            status = MENTION_STATUS.get(status)
            if status == UNCERTAIN and finding not in k.screened_findings:
                status = PRESENT   # a hedged complaint ("maybe once a week") is still the complaint
            elif status == PRESENT and finding in unsure_about:
                status = UNCERTAIN   # named in a "not sure" answer to the question about it
            elif status == UNCERTAIN and finding in affirmed_about:
                status = PRESENT     # "yes, it feels kind of numb": the yes decides
            if status and said.get(finding) != PRESENT:
                said[finding] = status
        corrects_complaint = any(status == PRESENT and _is_complaint(finding, k) for finding, status in said.items())
        for finding, status in said.items():
            if status in (SUGGESTED, UNCERTAIN) and state.findings.get(finding) in (PRESENT, ABSENT):
                continue   # already confirmed or ruled out
            if status == ABSENT and state.findings.get(finding) == PRESENT and _is_complaint(finding, k) \
                    and not corrects_complaint:
                continue   # "nothing with my lower back since then" does not take back the complaint
            state.findings[finding] = status
            state.evidence[finding] = turn.text
        for finding, status in others.items():
            state.others.setdefault(finding, status)
            state.evidence.setdefault(finding, turn.text)
        _apply_duration(state, turn, said, k)
        if state.proxy:
            state.adopt_others()
        _rule_out_what_implies_the_ruled_out(state, k)
    return state


def _apply_duration(state: ConversationState, turn: Turn, said: dict[str, str], k: Knowledge) -> None:
    """How long a pain has lasted, said without naming a complaint ("4 months", "for ages", "keeps
    coming back"), is the back pain's, once back pain is the complaint: long-standing or not."""
    if turn.course is None or LONG_STANDING in said or state.findings.get(TIMED_COMPLAINT) != PRESENT \
            or any(_is_complaint(finding, k) for finding, _ in turn.mentions):
        return
    if turn.course == "long":
        state.findings[LONG_STANDING] = PRESENT
    elif state.findings.get(LONG_STANDING) not in KNOWN:
        state.findings[LONG_STANDING] = ABSENT
    else:
        return
    state.evidence[LONG_STANDING] = turn.text


def _is_complaint(finding: str, k: Knowledge) -> bool:
    """What the patient came with (back pain, calf pain, cramps...): taken back only by naming
    another complaint ("it's my calf, not my back"), not by a passing "nothing with my back"."""
    found = k.findings.get(finding)
    return bool(found and found.explained_by and found.kind == "symptom" and finding not in k.screened_findings)


def _settle_after_max_asks(state: ConversationState, question: Question) -> None:
    """No question is asked a fourth time, whatever the replies: what is still open is "not sure"."""
    if state.asked.count(question.id) < MAX_ASKS or state.findings.get(question.screen_finding) in KNOWN:
        return
    state.findings[question.screen_finding] = UNCERTAIN
    for item in question.items:
        if state.findings.get(item) not in KNOWN:
            state.findings[item] = UNCERTAIN


def _rule_out_what_implies_the_ruled_out(state: ConversationState, k: Knowledge) -> None:
    """No swelling at all means no tight, hard swelling either (a finding implies another: when
    that one is ruled out, so is this one, unless already said)."""
    changed = True
    while changed:
        changed = False
        for finding in k.findings.values():
            if finding.id not in state.findings and any(state.findings.get(i) == ABSENT for i in finding.implies):
                state.findings[finding.id] = ABSENT
                changed = True


def state_from_events(events: Iterable[dict[str, Any]], k: Knowledge | None = None) -> ConversationState:
    return conversation_state(turns_from_events(events), k)
