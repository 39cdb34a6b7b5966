"""The action server never started, killed mid-conversation, or hanging (SIGSTOP): the patient
still gets a reply to every message, an emergency still gets its advice (decided and rendered in
the Rasa server), and the conversation resumes where it was once the action server is back.

One Rasa server for the module; its action server (a fixed port) is started, killed, paused and
restarted by the tests. CLINIC_ACTION_TIMEOUT_SECONDS is 3.
"""
from __future__ import annotations

import pytest

from testing.synthetic import temporary_database
from tests.faults.helpers import (
    ACTION_TIMEOUT_SECONDS,
    Stack,
    asks,
    assert_answered,
    assert_emergency_advice,
    degraded,
    fault_env,
    triage_of,
)

pytestmark = [pytest.mark.servers, pytest.mark.slow, pytest.mark.timeout(600)]

EMERGENCY = "I can't feel it when I wipe"
BACK = "my lower back hurts"
CALVES = "my calves feel tight and cramp at night"
# A refused connection fails at once; a hanging server costs one timeout per turn at most.
REFUSED_REPLY_SECONDS = 2.5
HANG_REPLY_SECONDS = ACTION_TIMEOUT_SECONDS + 3


@pytest.fixture(scope="module")
def stack(model, tmp_path_factory):
    with temporary_database("clinic_faults_actions") as url:
        stack = Stack(fault_env(CLINIC_DATABASE_URL=url), tmp_path_factory.mktemp("faults-actions"))
        try:
            stack.start_rasa()  # the action server is not started: the first test needs it down
            yield stack
        finally:
            stack.stop()


def same_triage(replies, expected) -> bool:
    """The same decision (event_key names the message that led to it, so it differs)."""
    def decision(r):
        return {k: v for k, v in (triage_of(r) or {}).items() if k != "event_key"}
    return decision(replies) == decision(expected)


def control(stack, sender, messages):
    """The replies of a conversation held with the action server up."""
    stack.start_actions()
    return [stack.say(sender, message) for message in messages]


def test_action_server_never_started_every_message_is_answered_and_emergencies_advised(stack, new_sender):
    assert stack.actions is None
    first = new_sender("never-emergency")
    replies, seconds = stack.timed_say(first, "I can't feel it when I wipe and my back is killing me")
    assert_emergency_advice(replies)
    assert asks(replies) == ["consent"] and seconds < REFUSED_REPLY_SECONDS  # no screening question

    sender = new_sender("never")
    opening = stack.say(sender, BACK)
    assert asks(opening) == ["consent"] and "999" in opening[0]["text"]  # consent_form runs in Rasa
    for message in ("/affirm", "what is the soleus?"):  # both need the action server
        replies, seconds = stack.timed_say(sender, message)
        assert_answered(replies)
        assert degraded(replies), (message, replies)
        assert "999" in replies[0]["text"] and seconds < REFUSED_REPLY_SECONDS
    assert_answered(stack.say(sender, "no"))
    replies = stack.say(sender, EMERGENCY)
    assert_emergency_advice(replies)
    assert stack.rasa.popen.poll() is None


def test_consent_lost_while_the_action_server_was_down_is_recorded_and_the_screen_starts_once_it_is_up(
        stack, new_sender):
    stack.kill_actions()
    sender = new_sender("consent")
    stack.say(sender, BACK)
    assert degraded(stack.say(sender, "/affirm"))  # action_record_consent failed

    stack.start_actions()
    expected = control(stack, new_sender("consent-control"), [BACK, "/affirm", "no"])
    replies = stack.say(sender, "/affirm")  # trying again, as the apology asked
    assert_answered(replies)
    assert "staff may read this conversation" in replies[0]["text"]
    assert asks(replies) == asks(expected[1]) == ["cauda_equina"]
    assert asks(stack.say(sender, "no")) == asks(expected[2])


def test_action_server_killed_mid_screen_then_back_the_screen_asks_its_next_question(stack, new_sender):
    answers = [BACK, "/affirm", "no", "no", "no"]
    expected = control(stack, new_sender("killed-control"), answers)
    sender = new_sender("killed")
    for message, reply in zip(answers[:3], expected[:3], strict=False):
        assert asks(stack.say(sender, message)) == asks(reply)

    stack.kill_actions()
    for message in ("no", "no"):  # the answer to the pending question, lost twice
        replies, seconds = stack.timed_say(sender, message)
        assert_answered(replies)
        assert degraded(replies) and seconds < REFUSED_REPLY_SECONDS

    stack.start_actions()
    replies = stack.say(sender, "no")
    assert asks(replies) == asks(expected[3]), "the pending question's answer is taken, the next one asked"
    assert asks(stack.say(sender, "no")) == asks(expected[4])

    stack.kill_actions()
    assert_emergency_advice(stack.say(sender, "yes, and I can't feel it when I wipe"))


def test_action_server_hanging_each_turn_is_answered_within_the_timeout_and_resumes(stack, new_sender):
    answers = [CALVES, "/affirm", "no", "no", "no"]
    expected = control(stack, new_sender("hang-control"), answers)
    sender, emergency = new_sender("hang"), new_sender("hang-emergency")
    for message, reply in zip(answers[:3], expected[:3], strict=False):
        assert asks(stack.say(sender, message)) == asks(reply)
    stack.say(emergency, CALVES)

    stack.pause_actions()
    try:
        replies, seconds = stack.timed_say(sender, "no")
        assert_answered(replies)
        assert degraded(replies) and seconds < HANG_REPLY_SECONDS
        # The escalation is said before the action server is asked to record it.
        replies, seconds = stack.timed_say(emergency, "/affirm and I can't feel it when I wipe")
        assert_emergency_advice(replies)
        assert seconds < HANG_REPLY_SECONDS
    finally:
        stack.resume_actions()

    replies = stack.say(sender, "no")
    assert asks(replies) == asks(expected[3]) and same_triage(replies, expected[3])
    replies = stack.say(sender, "no")
    assert asks(replies) == asks(expected[4])
    assert stack.rasa.popen.poll() is None
