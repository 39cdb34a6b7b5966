"""What the deterministic triage policy decides, from a conversation's events (plain dicts).

Kept free of Rasa objects so it can be tested directly; bot/policy.py wraps it for Rasa. The
decisions are one table, TABLE at the end (tested row by row in tests/bot/test_flow_table.py);
what they do:

1. Escalation: right after every user message, the findings so far are run through the triage
   rules. A new emergency or urgent red flag (or a more urgent level) interrupts whatever is going
   on: the advice is uttered at once (utter_escalation, rendered in the Rasa server by bot/nlg.py,
   so it needs no action server), then recorded (action_record_outcome). An emergency ends the
   screen; after an urgent one, only questions that could still reveal an emergency are asked.
2. Never silent: if an action-server action ran but came back with nothing (server down or timed
   out: Rasa logs the error and drops its events), and the patient has had no reply since their
   message, the bot says utter_degraded (also rendered in the Rasa server, with safety advice).
3. After a handoff request interrupted the screen, the screen resumes.
4. Consent is asked once the advice is out: a conversation whose first message was an emergency
   (or urgent) gets the advice at once and no opening, so when there is nothing left to ask, the
   consent question follows the advice; after the answer the bot listens (the screen is over).
5. Every message is evidence, in every state: a message that reports a new finding (or another
   person's symptoms) while the consent question is open moves on to the screen (consent is asked
   again after the outcome); after the outcome it re-runs the screen, so a correction gets a new
   decision; during the callback form it leaves the form for the screen. A "no" in the callback
   form leaves it.
6. A lost step is retried: when a step that the rules cannot redo by themselves failed (recording
   the consent, starting the screen, giving the outcome, recording a handoff) and the patient got
   utter_degraded, their next message runs that step again, then the dialogue goes on as it
   would have (after the consent, the screen starts).
7. A check-in is offered once, after a self-care or routine outcome with no emergency or urgent
   advice in the conversation, once consent is settled (action_offer_follow_up, which says
   nothing when check-ins are off). The next message, if it answers the offer (a yes, a no, a
   number), goes to action_follow_up; anything else lets the offer lapse and goes on as usual, and
   new symptoms go to the screen as always.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterable

from knowledge import follow_up
from knowledge.conversation import ConversationState, state_from_events
from knowledge.events import (
    ESCALATE,
    active_loop,
    active_loop_before,
    classified_intent,
    escalations,
    last_index,
    latest_intent,
    session,
)
from knowledge.model import Knowledge, knowledge
from knowledge.triage import Outcome, evaluate
from knowledge.turns import INTENTS_WITH_OWN_RULES, Turn, turns_from_events

RECORD = "action_record_outcome"
DEGRADED = "utter_degraded"
LISTEN = "action_listen"
TRIAGE_FORM = "triage_form"
HANDOFF_FORM = "handoff_form"
RECORD_HANDOFF = "action_record_handoff"
RECORD_CONSENT = "action_record_consent"
CONSENT_FORM = "consent_form"
TRIAGE_OUTCOME = "action_triage_outcome"
OFFER_FOLLOW_UP = "action_offer_follow_up"
FOLLOW_UP = "action_follow_up"
# Steps the rules do not come back to once their events are lost (a form that was already
# active is re-run by the rules on the next message anyway).
RETRIED_STEPS = (RECORD_CONSENT, TRIAGE_FORM, TRIAGE_OUTCOME, RECORD_HANDOFF)
HANDOFF_LEFT = "utter_handoff_left"
NOTED = "utter_noted"
OPENING = "utter_opening"
# A first message that is only a yes, a no, thanks or nothing readable ("🦵🦵🦵") gets the opening
# (who the bot is, the emergency number, consent); greetings and symptoms have rules of their own.
OPENED_BY = {"affirm", "deny", "unsure", "thank", "goodbye", "nlu_fallback"}
# Intents with a rule of their own during the screen (rules.yml); any other message goes to the form.
OWN_RULES_IN_THE_SCREEN = INTENTS_WITH_OWN_RULES | {"describe_symptoms", "affirm", "deny", "unsure"}


@dataclass(frozen=True)
class Decision:
    action: str
    end_screen: bool = False     # deactivate the active form (emergency)


def needs_escalation(outcome: Outcome, before: list[Outcome], k: Knowledge) -> bool:
    """A new emergency/urgent flag at the outcome's level, or a more urgent level than before."""
    if not outcome.is_escalation:
        return False
    highest = max((o.level for o in before), key=k.level_rank, default="self_care")
    if k.level_rank(outcome.level) > k.level_rank(highest):
        return True
    if k.level_rank(outcome.level) < k.level_rank(highest):
        return False
    announced = {flag for o in before for flag in o.red_flags}
    at_level = {hit.flag for hit in outcome.hits if hit.level == outcome.level}
    return bool(at_level - announced)


def _silent_failure(events: list[dict], custom_actions: set[str]) -> bool:
    """An action-server action ran, produced nothing, and the patient has had no reply.

    Only for messages that came through a channel: in `rasa test` no action runs at all, so an
    empty result there is no failure.
    """
    if not events or events[-1].get("event") != "action" or events[-1].get("name") not in custom_actions:
        return False
    last_user = last_index(events, "user")
    return (last_user >= 0 and bool(events[last_user].get("input_channel"))
            and last_index(events, "bot") < last_user)


def _screen_was_interrupted_by_handoff(events: list[dict]) -> bool:
    loops = [e.get("name") for e in events if e.get("event") == "active_loop"]
    if HANDOFF_FORM not in loops:
        return False
    before = loops[: len(loops) - 1 - loops[::-1].index(HANDOFF_FORM)]
    return bool(before) and before[-1] == TRIAGE_FORM


def _opened(events: list[dict]) -> bool:
    return any(e.get("event") == "action" and e.get("name") == OPENING for e in events)


def _consent_settled(events: list[dict]) -> bool:
    return any(e.get("event") == "slot" and e.get("name") == "consent" and e.get("value") is not None
               for e in events)


def _consent_asked_after_outcome(events: list[dict]) -> bool:
    asked = last_index(events, "active_loop", CONSENT_FORM)
    return asked > max(last_index(events, "action", RECORD), last_index(events, "action", TRIAGE_OUTCOME), -1) >= 0


def _step_lost_before(events: list[dict], last_user: int) -> str | None:
    """The step to retry: it failed, and the bot said utter_degraded, just before this message."""
    actions = [(index, event.get("name")) for index, event in enumerate(events[:last_user])
               if event.get("event") == "action"]
    if len(actions) < 3 or [name for _, name in actions[-2:]] != [DEGRADED, LISTEN]:
        return None
    index, step = actions[-3]
    if step not in RETRIED_STEPS or any(e.get("event") != "action" for e in events[index + 1:actions[-2][0]]):
        return None
    if step == TRIAGE_FORM and active_loop_before(events, index) == TRIAGE_FORM:
        return None  # the rules re-run an active form
    return step


def _reported_something_new(before: ConversationState, after: ConversationState) -> bool:
    """The latest message reported a finding present that was not, or another person's symptoms."""
    new = {f for f, status in after.findings.items() if status == "present" and before.findings.get(f) != "present"}
    new |= {f for f, status in after.findings.items() if status == "suggested" and f not in before.findings}
    return bool(new) or (after.someone_else_described and not before.someone_else_described)


def _rejected_after(events: list[dict], last_user: int, name: str) -> bool:
    return any(e.get("event") == "action_execution_rejected" and e.get("name") == name for e in events[last_user:])


class View:
    """What the table's rows read about a conversation, each worked out at most once per decision."""

    def __init__(self, events: list[dict], custom_actions: set[str], k: Knowledge) -> None:
        self.events, self.custom_actions, self.k = events, custom_actions, k
        self.last_action = last_index(events, "action")
        self.last_user = last_index(events, "user")
        self.previous = events[self.last_action].get("name") if self.last_action >= 0 else None
        self.after = MESSAGE if self.last_user > self.last_action else self.previous

    @cached_property
    def state(self) -> ConversationState:
        return state_from_events(self.events, self.k)

    @cached_property
    def state_before_message(self) -> ConversationState:
        return state_from_events(self.events[:self.last_user], self.k)

    @cached_property
    def outcome(self) -> Outcome:
        return evaluate(self.state.findings, self.k)

    @cached_property
    def announced(self) -> list[Outcome]:
        return escalations(self.events, self.k)

    @cached_property
    def loop(self) -> str | None:
        return active_loop(self.events)

    @cached_property
    def intent(self) -> str | None:
        return latest_intent(self.events)

    @cached_property
    def latest_turn(self) -> Turn | None:
        turns = turns_from_events(self.events)
        return turns[-1] if turns else None

    @cached_property
    def polarity(self) -> str | None:
        return self.latest_turn.polarity if self.latest_turn else None

    @cached_property
    def text(self) -> str:
        return (self.events[self.last_user].get("text") or "") if self.last_user >= 0 else ""

    @cached_property
    def mentions(self) -> bool:
        return bool(self.latest_turn and self.latest_turn.mentions)

    @cached_property
    def lost(self) -> str | None:
        return _step_lost_before(self.events, self.last_user)

    @cached_property
    def retried(self) -> bool:
        """The action just run was the retry of a lost step (and ran once since the message)."""
        return self.last_action > self.last_user and self.lost == self.previous \
            and last_index(self.events[:self.last_action], "action") < self.last_user

    @cached_property
    def offers_follow_up(self) -> bool:
        """A check-in fits: an outcome for a complaint at a level that offers one, no emergency or
        urgent advice in this conversation, and no offer made yet."""
        return (not self.announced and not follow_up.offered(self.events) and bool(self.state.complaints)
                and follow_up.check_in_for(self.state.findings, self.k) is not None)

    @cached_property
    def answers_follow_up(self) -> bool:
        """The message answers the offer's open question and reports nothing new."""
        question = follow_up.open_question(self.events)
        return (question is not None and self.latest_turn is not None
                and follow_up.answers(self.latest_turn, question)
                and not _reported_something_new(self.state_before_message, self.state))

    @property
    def opened(self) -> bool:
        return _opened(self.events)

    @property
    def consent_settled(self) -> bool:
        return _consent_settled(self.events)

    @property
    def first_message(self) -> bool:
        return sum(e.get("event") == "user" for e in self.events) == 1

    @property
    def outcome_given(self) -> bool:
        return last_index(self.events, "action", TRIAGE_OUTCOME) >= 0 or last_index(self.events, "action", ESCALATE) >= 0

    @property
    def handoff_interrupted_screen(self) -> bool:
        return _screen_was_interrupted_by_handoff(self.events)

    def to_screen(self) -> Decision:
        """Go to the screen, leaving the consent or callback form if one is open."""
        return Decision(TRIAGE_FORM, end_screen=self.loop not in (None, TRIAGE_FORM))


MESSAGE = "message"      # a row that applies right after the patient's message
ANY_ACTION = "*"         # a row that applies after any action


@dataclass(frozen=True)
class Row:
    """One transition: after `after`, if `when` holds, `then` (None leaves the turn to the rules)."""
    name: str
    after: str
    when: Callable[[View], bool]
    then: Callable[[View], Decision | None]


def _always(view: View) -> bool:
    return True


def _go(action: str, end_screen: bool = False) -> Callable[[View], Decision]:
    return lambda view: Decision(action, end_screen)


def _leave_to_rules(view: View) -> None:
    return None


# The dialogue's decisions, one home: rows are tried in order; the first whose `after` and `when`
# hold decides. Rows after a message come first; Rasa's rules (nlu_data/rules.yml) handle what no
# row decides (greetings, questions, small talk, the forms' own steps).
TABLE: tuple[Row, ...] = (
    # -- right after a patient's message --
    Row("escalate a new red flag", MESSAGE,
        lambda v: needs_escalation(v.outcome, v.announced, v.k),
        lambda v: Decision(ESCALATE, end_screen=v.outcome.level == "emergency")),
    Row("retry a lost step", MESSAGE, lambda v: v.lost is not None, lambda v: Decision(v.lost)),
    Row("an answer to the check-in offer", MESSAGE, lambda v: v.answers_follow_up, _go(FOLLOW_UP)),
    Row("open a bare first message", MESSAGE,
        lambda v: v.first_message and not v.opened and v.intent in OPENED_BY, _go(OPENING)),
    Row("no leaves the callback form", MESSAGE,
        lambda v: v.loop == HANDOFF_FORM and v.polarity == "deny", _go(HANDOFF_LEFT, end_screen=True)),
    Row("the opening rules come first", MESSAGE, lambda v: not v.opened, _leave_to_rules),
    Row("a question is answered first", MESSAGE,
        lambda v: v.intent == "ask_question" and v.text.rstrip().endswith("?"), _leave_to_rules),
    Row("no thanks to a call", MESSAGE,
        lambda v: v.loop != HANDOFF_FORM and v.intent == "request_human" and v.polarity == "deny",
        _go(HANDOFF_LEFT)),
    Row("a misread intent goes to the screen", MESSAGE,     # "3 weeks" is no phone number
        lambda v: v.loop != HANDOFF_FORM and v.intent != classified_intent(v.events), View.to_screen),
    Row("new evidence goes to the screen", MESSAGE,
        lambda v: _reported_something_new(v.state_before_message, v.state)
        or (v.loop == CONSENT_FORM and v.mentions), View.to_screen),
    Row("more of what was said after the advice", MESSAGE,  # no dead end: the advice stands
        lambda v: v.loop is None and v.intent not in INTENTS_WITH_OWN_RULES and v.outcome_given and v.mentions,
        _go(NOTED)),
    Row("the form reads an answer the rules have no step for", MESSAGE,
        lambda v: v.loop == TRIAGE_FORM and v.intent not in OWN_RULES_IN_THE_SCREEN, _go(TRIAGE_FORM)),
    # -- after an action --
    Row("record the advice given", ESCALATE, _always, _go(RECORD)),
    Row("after urgent advice, ask what could still be an emergency", RECORD,
        lambda v: bool(v.announced) and v.announced[-1].level == "urgent" and bool(v.outcome.pending),
        _go(TRIAGE_FORM)),
    Row("after the advice, listen once consent is settled", RECORD, lambda v: v.consent_settled, _go(LISTEN)),
    Row("after the advice, ask for consent", RECORD, _always, _go(CONSENT_FORM)),
    Row("never silent", ANY_ACTION, lambda v: _silent_failure(v.events, v.custom_actions), _go(DEGRADED)),
    Row("consent after the opening", OPENING, lambda v: v.loop is None and not v.consent_settled,
        _go(CONSENT_FORM)),
    Row("listen after the apology", DEGRADED, _always, _go(LISTEN)),
    Row("listen after noting", NOTED, _always, _go(LISTEN)),
    Row("the screen resumes after leaving the callback form", HANDOFF_LEFT,
        lambda v: v.handoff_interrupted_screen, _go(TRIAGE_FORM)),
    Row("listen after leaving the callback form", HANDOFF_LEFT, _always, _go(LISTEN)),
    Row("consent after the outcome", TRIAGE_OUTCOME,          # with no complaint there is no outcome
        lambda v: not v.consent_settled and bool(v.state.complaints), _go(CONSENT_FORM)),
    Row("offer a check-in after consent given after the outcome", RECORD_CONSENT,
        lambda v: _consent_asked_after_outcome(v.events) and v.offers_follow_up, _go(OFFER_FOLLOW_UP)),
    Row("listen after consent given after the outcome", RECORD_CONSENT,
        lambda v: _consent_asked_after_outcome(v.events), _go(LISTEN)),
    Row("listen after the check-in offer", OFFER_FOLLOW_UP, _always, _go(LISTEN)),
    Row("listen after the reply to the offer", FOLLOW_UP, _always, _go(LISTEN)),
    Row("the screen starts after a retried consent", RECORD_CONSENT, lambda v: v.retried, _go(TRIAGE_FORM)),
    Row("listen after a retried outcome", TRIAGE_OUTCOME, lambda v: v.retried, _go(LISTEN)),
    Row("offer a check-in after the outcome", TRIAGE_OUTCOME, lambda v: v.offers_follow_up,
        _go(OFFER_FOLLOW_UP)),
    Row("the screen resumes after the callback request", RECORD_HANDOFF,
        lambda v: v.handoff_interrupted_screen, _go(TRIAGE_FORM)),
    Row("listen after a retried callback request", RECORD_HANDOFF, lambda v: v.retried, _go(LISTEN)),
)


def explain(events: Iterable[dict], custom_actions: set[str], k: Knowledge | None = None
            ) -> tuple[Row | None, Decision | None]:
    """The row that decides the next step, and its decision (None: the rules decide)."""
    view = View(session(list(events)), custom_actions, k or knowledge())
    for row in TABLE:
        if row.after in (view.after, ANY_ACTION) and not (row.after == ANY_ACTION and view.after == MESSAGE) \
                and row.when(view):
            decision = row.then(view)
            if decision and view.after == MESSAGE and _rejected_after(view.events, view.last_user, decision.action):
                return row, None   # the form found nothing to read: the rules answer, not a silent listen
            return row, decision
    return None, None


def decide(events: Iterable[dict], custom_actions: set[str], k: Knowledge | None = None) -> Decision | None:
    """The action the policy insists on next, or None to leave it to the other policies."""
    return explain(events, custom_actions, k)[1]
