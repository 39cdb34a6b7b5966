"""What the deterministic triage policy decides, from a conversation's events (plain dicts).

Kept free of Rasa objects so it can be tested directly; bot/policy.py wraps it for Rasa.

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
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from knowledge.conversation import INTENTS_WITH_OWN_RULES, ConversationState, state_from_events, turns_from_events
from knowledge.events import (
    ESCALATE,
    active_loop,
    active_loop_before,
    classified_intent,
    escalations,
    last_index,
    latest_intent,
    latest_polarity,
    session,
)
from knowledge.model import Knowledge, knowledge
from knowledge.triage import Outcome, evaluate

RECORD = "action_record_outcome"
DEGRADED = "utter_degraded"
LISTEN = "action_listen"
TRIAGE_FORM = "triage_form"
HANDOFF_FORM = "handoff_form"
RECORD_HANDOFF = "action_record_handoff"
RECORD_CONSENT = "action_record_consent"
CONSENT_FORM = "consent_form"
TRIAGE_OUTCOME = "action_triage_outcome"
# Steps the rules do not come back to once their events are lost (a form that was already
# active is re-run by the rules on the next message anyway).
RETRIED_STEPS = (RECORD_CONSENT, TRIAGE_FORM, TRIAGE_OUTCOME, RECORD_HANDOFF)
ESCALATION_LEVELS = ("emergency", "urgent")
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
    if outcome.level not in ESCALATION_LEVELS:
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


def _outcome_given(events: list[dict]) -> bool:
    return last_index(events, "action", TRIAGE_OUTCOME) >= 0 or last_index(events, "action", ESCALATE) >= 0


def _latest_mentions(events: list[dict]) -> bool:
    turns = turns_from_events(events)
    return bool(turns and turns[-1].mentions)


def _evidence_decision(events: list[dict], last_user: int, k: Knowledge) -> Decision | None:
    """What a message that tells us something new does, whatever state the dialogue is in."""
    loop = active_loop(events)
    if loop == HANDOFF_FORM and latest_polarity(events) == "deny":
        return Decision(HANDOFF_LEFT, end_screen=True)
    if not _opened(events):
        return None   # the opening rules come first
    intent, text = latest_intent(events), events[last_user].get("text") or ""
    if intent == "ask_question" and text.rstrip().endswith("?"):
        return None   # answered from the graph, then the dialogue goes on (its findings still count)
    if loop != HANDOFF_FORM and intent == "request_human" and latest_polarity(events) == "deny":
        return Decision(HANDOFF_LEFT)      # "no thanks, I don't want a call"
    if loop != HANDOFF_FORM and intent != classified_intent(events):
        return Decision(TRIAGE_FORM, end_screen=loop not in (None, TRIAGE_FORM))   # "3 weeks" is no phone number
    before, after = state_from_events(events[:last_user], k), state_from_events(events, k)
    if _reported_something_new(before, after) or (loop == CONSENT_FORM and _latest_mentions(events)):
        return Decision(TRIAGE_FORM, end_screen=loop not in (None, TRIAGE_FORM))
    if loop is None and intent not in INTENTS_WITH_OWN_RULES and _outcome_given(events) and _latest_mentions(events):
        return Decision(NOTED)   # more about what was already said: no dead end, the advice stands
    if loop == TRIAGE_FORM and latest_intent(events) not in OWN_RULES_IN_THE_SCREEN:
        return Decision(TRIAGE_FORM)   # an answer the rules have no step for: the form reads it
    return None


def decide(events: Iterable[dict], custom_actions: set[str], k: Knowledge | None = None) -> Decision | None:
    """The action the policy insists on next, or None to leave it to the other policies."""
    k = k or knowledge()
    events = session(list(events))
    last_action = last_index(events, "action")
    last_user = last_index(events, "user")
    previous = events[last_action].get("name") if last_action >= 0 else None

    if last_user > last_action:  # a new message from the patient
        outcome = evaluate(state_from_events(events, k).findings, k)
        if needs_escalation(outcome, escalations(events, k), k):
            return Decision(ESCALATE, end_screen=outcome.level == "emergency")
        lost = _step_lost_before(events, last_user)
        first_message = sum(e.get("event") == "user" for e in events) == 1
        if first_message and not lost and not _opened(events) and latest_intent(events) in OPENED_BY:
            return Decision(OPENING)
        decision = Decision(lost) if lost else _evidence_decision(events, last_user, k)
        if decision and _rejected_after(events, last_user, decision.action):
            return None   # the form found nothing to read: the rules answer, not a silent listen
        return decision
    if previous == ESCALATE:
        return Decision(RECORD)
    if previous == RECORD:
        announced = escalations(events, k)
        outcome = evaluate(state_from_events(events, k).findings, k)
        if announced and announced[-1].level == "urgent" and outcome.pending:
            return Decision(TRIAGE_FORM)
        return Decision(LISTEN if _consent_settled(events) else CONSENT_FORM)
    if _silent_failure(events, custom_actions):
        return Decision(DEGRADED)
    if previous == OPENING and active_loop(events) is None and not _consent_settled(events):
        return Decision(CONSENT_FORM)
    if previous == DEGRADED:
        return Decision(LISTEN)
    if previous == NOTED:
        return Decision(LISTEN)
    if previous == HANDOFF_LEFT:
        return Decision(TRIAGE_FORM) if _screen_was_interrupted_by_handoff(events) else Decision(LISTEN)
    if previous == TRIAGE_OUTCOME and not _consent_settled(events) and state_from_events(events, k).complaints:
        return Decision(CONSENT_FORM)  # the outcome was given (with no complaint there is none)
    if previous == RECORD_CONSENT and _consent_asked_after_outcome(events):
        return Decision(LISTEN)
    retried = last_action > last_user and _step_lost_before(events, last_user) == previous \
        and last_index(events[:last_action], "action") < last_user
    if retried and previous == RECORD_CONSENT:
        return Decision(TRIAGE_FORM)  # as the consent rule goes on
    if retried and previous == TRIAGE_OUTCOME:
        return Decision(LISTEN)
    if previous == RECORD_HANDOFF and _screen_was_interrupted_by_handoff(events):
        return Decision(TRIAGE_FORM)
    if retried and previous == RECORD_HANDOFF:
        return Decision(LISTEN)
    return None
