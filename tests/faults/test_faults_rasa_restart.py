"""Rasa restarted between two turns (stopped cleanly, then killed): the conversation continues
where it was, from the tracker store: the same pending question next, the findings remembered,
every reply the same as in a conversation held without a restart."""
from __future__ import annotations

import signal

import pytest

from testing.synthetic import temporary_database
from tests.faults.helpers import Stack, asks, fault_env, triage_of

pytestmark = [pytest.mark.servers, pytest.mark.slow, pytest.mark.timeout(600)]

FIRST = "my lower back hurts and my calves cramp at night"


def shown(replies: list[dict]) -> list[tuple]:
    """What the patient sees (event_key names the message an outcome came from: left out)."""
    def custom(reply):
        data = dict(reply.get("custom") or {})
        if "triage" in data:
            data["triage"] = {k: v for k, v in data["triage"].items() if k != "event_key"}
        return data
    return [(r.get("text"), r.get("buttons"), custom(r)) for r in replies]


@pytest.fixture(scope="module")
def stack(model, tmp_path_factory):
    with temporary_database("clinic_faults_restart") as url:
        stack = Stack(fault_env(CLINIC_DATABASE_URL=url), tmp_path_factory.mktemp("faults-restart"))
        try:
            stack.start_actions()
            stack.start_rasa()
            yield stack
        finally:
            stack.stop()


def test_rasa_restarted_twice_the_conversation_goes_on_where_it_was(stack, new_sender):
    messages = [FIRST, "/affirm", "no", "what is the soleus?"]
    control_sender = new_sender("control")
    expected = [stack.say(control_sender, m) for m in messages]
    while not triage_of(expected[-1]):
        assert len(messages) < 25, "no outcome"
        messages.append("no")
        expected.append(stack.say(control_sender, "no"))
    assert len(messages) >= 7

    sender = new_sender("restarted")
    pending = None
    for index, message in enumerate(messages):
        if index == 3:
            stack.rasa.stop(signal.SIGTERM)
            stack.start_rasa()
        if index == 5:
            stack.rasa.stop(signal.SIGKILL)
            stack.start_rasa()
        replies = stack.say(sender, message)
        assert shown(replies) == shown(expected[index]), f"turn {index + 1} ({message!r})"
        if index == 2:
            pending = asks(replies)[-1]
        if index == 3:  # a question, then the same pending question again
            assert asks(replies) == [pending]
    outcome = triage_of(replies)
    assert outcome["level"] in ("self_care", "routine") and outcome["plan"], outcome
    assert len(stack.rasas) == 3 and stack.rasa.popen.poll() is None
