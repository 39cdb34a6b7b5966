"""From a conversation to what the patient has told us: findings with status, consent, answers.

A conversation is a list of Turns. `turns_from_events` reads them from Rasa's event JSON (plain
dicts, as stored by the tracker store and sent to the action server), so the Rasa server's policy,
its NLG and the action server all reach the same answer from the same events. No Rasa import.

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

from knowledge.model import Knowledge, Question, knowledge
from knowledge.triage import ABSENT, KNOWN, PRESENT, SUGGESTED, UNCERTAIN, WHICH, Outcome, evaluate

CONSENT_QUESTION = "consent"
PROXY_QUESTION = "proxy"
MISUNDERSTOOD_LIMIT = 2
MAX_ASKS = 3                   # a question is never asked a fourth time: still unanswered, it is unsure
NAMING_REPLY_WORDS = 3         # "both legs", "the peeing one": a reply this short names items by their words
MAX_WORDS_READ_ANYWHERE = 12   # a longer reply is a story, not an answer
# Words that answer wherever they stand in a short reply ("the crash was in 2015, nothing recent").
STORY_YES = ("yes", "yeah", "yep", "yup")
STORY_NO = ("no", "nope", "nah", "not sure", "dont know", "no idea", "not really")
AFFIRM_ANYWHERE = ("yes", "yeah", "yep", "yup", "definitely", "absolutely", "correct", "afraid so", "sadly yes")
DENY_ANYWHERE = ("no", "nope", "nah", "not really", "not at all", "never", "none", "nothing", "neither",
                 "dont think so", "not that i know", "not recently", "nothing recent", "nothing like that", "on purpose",
                 "deliberately", "intentionally", "im dieting", "on a diet")        # replies that answer nothing before the question counts as unsure
# Messages that are not attempts to answer (a question back, asking for a person, small talk).
NOT_ANSWERS = {"ask_question", "ask_plan_detail", "request_human", "give_contact", "bot_challenge", "greet", "thank",
               "goodbye"}
# Intents the dialogue's rules answer in their own way during a form (rules.yml): the form lets them.
INTENTS_WITH_OWN_RULES = NOT_ANSWERS | {"out_of_scope", "nlu_fallback", "restart"}
INTENT_ANSWERS = {"affirm": "affirm", "deny": "deny", "unsure": "unsure"}
UNPLACED_INTENTS = ("nlu_fallback", "out_of_scope")   # the classifier could not place the message
QUESTION_INTENTS = ("ask_question", "ask_plan_detail")
_WORDLIKE = re.compile(r"\b(?:(?=[a-z']*[aeiouy])[a-z']{1,20}|\d{1,3})\b")   # a word a person might type
MIN_INTENT_CONFIDENCE = 0.6
# another person's age alone ("my son is 11") describes no symptoms
AGE_FINDINGS = ("under_16", "older_age")
MENTION_STATUS = {"present": PRESENT, "absent": ABSENT, "suggested": SUGGESTED, "uncertain": UNCERTAIN}


@dataclass(frozen=True)
class Turn:
    text: str = ""
    mentions: tuple[tuple[str, str], ...] = ()     # (finding id, status) as extracted
    answer: str | None = None                      # affirm | qualified_affirm | deny | unsure | None
    intent: str | None = None
    intent_confidence: float = 0.0
    asked: str | None = None                       # the question the bot asked just before

    @property
    def polarity(self) -> str | None:
        if self.answer:
            return "affirm" if self.answer == "qualified_affirm" else self.answer
        if self.intent in INTENT_ANSWERS and self.intent_confidence >= MIN_INTENT_CONFIDENCE \
                and len(_WORD.findall(self.text.lower())) <= MAX_WORDS_READ_ANYWHERE:
            return INTENT_ANSWERS[self.intent]   # the classifier reads short replies, not stories
        return None


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
    def someone_else_described(self) -> bool:
        """Another person's current symptoms were described, and it is not settled whose they are."""
        k = knowledge()
        return self.proxy is None and not self.complaints and any(
            f in k.findings and not k.findings[f].history_ok and f not in AGE_FINDINGS for f in self.others)

    def adopt_others(self) -> None:
        for finding, status in self.others.items():
            if self.findings.get(finding) not in (PRESENT, ABSENT):
                self.findings[finding] = status
        self.others.clear()


_WORD = re.compile(r"[a-z]+")
_THIRD_PERSON = re.compile(r"\b(?:she|he|she's|he's|shes|hes|her|his|him)\b", re.IGNORECASE)
_ALL_ITEMS = re.compile(r"\b(?:all|both|each) of (?:them|those|these|the above)\b|\beverything\b|\ball (?:three|four|five)\b")
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4}
_NOT_KEYWORDS = {"your", "you", "the", "and", "that", "when", "with", "without", "being", "feeling", "having",
                 "new", "not", "able", "such", "last", "few", "for", "days", "in", "on", "or", "of", "a", "to",
                 "like", "time", "long", "past", "now", "need", "leg", "calf", "one", "weeks", "trouble", "pain"}


def _same_word(a: str, b: str) -> bool:
    """Crude stemming: "numb" ~ "numbness", "pee" ~ "peeing"."""
    shared = min(4, len(a), len(b))
    return shared >= 3 and a[:shared] == b[:shared]


def items_named(question, text: str, k: Knowledge) -> set[str]:
    """Items of a several-item question that a free-text reply names by their own words ("yes the
    peeing one", "both legs") or by position ("the second one")."""
    words = [w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _NOT_KEYWORDS]
    keywords = {item: {w for w in _WORD.findall(k.findings[item].ask.lower())
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


NOT_NOW = ("absent", "past", "hypothetical", "other")
PATIENTS_OWN = ("present", "suggested", "uncertain")


def polarity_anywhere(text: str, k: Knowledge) -> str | None:
    """A short reply's yes/no/unsure said anywhere in it; both yes and no words read as unsure."""
    words = " " + " ".join(_WORD.findall(text.lower().replace("'", ""))) + " "

    def says(phrases) -> bool:
        return any(f" {' '.join(_WORD.findall(p.replace(chr(39), '')))} " in words for p in phrases)
    if len(words.split()) > MAX_WORDS_READ_ANYWHERE:
        # a story is no answer, unless it says yes in so many words ("well now you ask ... but
        # yes, my bum feels kind of numb"; "she says yes, ...") and no no
        return "affirm" if says(STORY_YES) and not says(STORY_NO) else None
    if says(p for p in k.answers["unsure"] if len(p) > 2 and re.fullmatch(r"[a-z' ]+", p)):
        return "unsure"
    deny, affirm = says(DENY_ANYWHERE), says(AFFIRM_ANYWHERE)
    if deny and affirm:
        return "unsure"
    return "deny" if deny else ("affirm" if affirm else None)


def reply_polarity(turn: Turn, k: Knowledge) -> str | None:
    """The turn's yes/no/unsure: how it starts or its intent, else a story's explicit yes; a no
    the patient corrects to a yes in the same reply ("no... actually hang on, yes") is a yes."""
    if turn.polarity == "deny" and re.search(k.patterns["corrected_to_yes"], turn.text.lower()):
        return "affirm"
    if turn.polarity or turn.intent in NOT_ANSWERS or len(_WORD.findall(turn.text.lower())) <= MAX_WORDS_READ_ANYWHERE:
        return turn.polarity
    return polarity_anywhere(turn.text, k)


def _apply_answer(state: ConversationState, turn: Turn, polarity: str | None, question: Question | None,
                  k: Knowledge) -> None:
    if turn.asked == CONSENT_QUESTION:
        if polarity in ("affirm", "deny"):
            state.consent = polarity == "affirm"
        return
    if turn.asked == PROXY_QUESTION:
        goes_on_about_them = any(status == "other" for _, status in turn.mentions) or (
            len(_WORD.findall(turn.text)) > NAMING_REPLY_WORDS and _THIRD_PERSON.search(turn.text))
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
        words = " " + " ".join(_WORD.findall(turn.text.lower().replace("'", ""))) + " "
        said_yes = any(f" {phrase} " in words for phrase in STORY_YES)
        named = {finding for finding, status in turn.mentions
                 if said_yes and finding in named and status in present}
    if len(question.items) > 1 and turn.intent not in NOT_ANSWERS and (
            polarity == "affirm" or state.findings.get(question.screen_finding) == WHICH
            or len(_WORD.findall(turn.text)) <= NAMING_REPLY_WORDS):
        named |= items_named(question, turn.text, k)   # "yes, both legs"; "the peeing one"
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
        if state.proxy:
            state.adopt_others()
        _rule_out_what_implies_the_ruled_out(state, k)
    return state


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


# ---- Rasa event JSON -> turns ----------------------------------------------------------------
RESET_EVENTS = ("restart", "session_started")


def _entities(parse_data: dict) -> list[dict]:
    entities = parse_data.get("entities") or []
    return [e for e in entities if isinstance(e, dict)]


def read_intent(intent: str | None, text: str, k: Knowledge | None = None, *, findings: bool = False,
                answer: str | None = None) -> str | None:
    """The classifier's intent where the words bear it out: digits with no phone number or email
    ("3 weeks", "yes 12 hour flight") are no contact details but something said about the symptoms;
    a restart needs words that ask for one ("the wife wants me to go in" is no restart); a message
    the classifier could not place is a story when it names a symptom ("sure. first spin class and
    both calves are screaming"), else a yes or no when it starts with one (`findings`: the message
    names one of the patient's findings; `answer`: the answer lexicon's reading of its start)."""
    k = k or knowledge()
    if intent == "give_contact" and re.search(r"\d", text or "") \
            and not re.search(k.patterns["contact_details"], text or ""):
        return "describe_symptoms"
    if intent == "restart" and not re.search(k.patterns["restart_words"], text or "", re.IGNORECASE):
        return "describe_symptoms"   # a restart wipes the conversation: only when asked for in words
    if intent in QUESTION_INTENTS and text and not text.startswith("/") and not _WORDLIKE.search(text.lower()):
        return "nlu_fallback"   # "xxxxxxxx…" asks nothing: the fallback answers, with the emergency line
    if intent in UNPLACED_INTENTS:
        if findings:
            return "describe_symptoms"
        if answer in ("affirm", "deny"):
            return answer
    return intent


def turn_from_user_event(event: dict, asked: str | None) -> Turn:
    parse = event.get("parse_data") or {}
    intent = parse.get("intent") or {}
    entities = _entities(parse)
    mentions = tuple((e.get("value"), e.get("role") or "present") for e in entities if e.get("entity") == "finding")
    answer = next((e.get("value") for e in entities if e.get("entity") == "answer"), None)
    text = event.get("text") or ""
    patients = any(status in PATIENTS_OWN for _, status in mentions)
    return Turn(text=text, mentions=mentions, answer=answer,
                intent=read_intent(intent.get("name"), text, findings=patients, answer=answer),
                intent_confidence=float(intent.get("confidence") or 0.0), asked=asked)


def asked_in(event: dict) -> str | None:
    """The question id a bot event asked (custom.ask), if any."""
    custom = (event.get("data") or {}).get("custom") or {}
    return custom.get("ask") if isinstance(custom, dict) else None


def turns_from_events(events: Iterable[dict[str, Any]]) -> list[Turn]:
    """The turns of the current session, in order.

    What the bot asked comes from its message (custom.ask) or from the form's requested_slot; the
    latter is all `rasa test` stories have, since no action runs there.
    """
    turns: list[Turn] = []
    asked: str | None = None
    for event in events:
        kind = event.get("event")
        if kind in RESET_EVENTS:
            turns, asked = [], None
        elif kind == "slot" and event.get("name") == "requested_slot":
            asked = event.get("value")
        elif kind == "bot":
            asked = asked_in(event)
        elif kind == "user":
            turns.append(turn_from_user_event(event, asked))
            asked = None
    return turns


def state_from_events(events: Iterable[dict[str, Any]], k: Knowledge | None = None) -> ConversationState:
    return conversation_state(turns_from_events(events), k)
