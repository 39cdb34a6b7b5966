"""The check-in offer in whole conversations with the real servers over REST, check-ins on
(CLINIC_FOLLOW_UPS_ENABLED): offered after a self-care outcome and set up with a mobile number,
skippable, and never offered after urgent advice. Its own pair of servers (the session's bot runs
with check-ins off, as a fresh install does)."""
import pytest
from sqlalchemy import select

from storage.db import get_engine, session_factory
from storage.models import FollowUp
from testing.servers import MODEL, base_env, start_bot
from testing.synthetic import temporary_database
from tests.e2e.test_conversations import answer_until_outcome, asks, start, texts, triage_of

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def database():
    with temporary_database("clinic_e2e_followup") as url:
        yield url


@pytest.fixture(scope="module")
def bot(database, tmp_path_factory):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train` (make test does it)")
    env = base_env(CLINIC_DATABASE_URL=database, CLINIC_EMERGENCY_NUMBER="999", CLINIC_FOLLOW_UPS_ENABLED="true",
                   CLINIC_RATE_LIMIT_BURST="100")   # a whole conversation from one sender in seconds
    running = start_bot(tmp_path_factory.mktemp("bot-logs-followup"), env)
    yield running
    running.stop()


def check_ins(database, sender):
    with session_factory(get_engine(database))() as session:
        return session.execute(select(FollowUp).where(FollowUp.conversation_id == sender)).scalars().all()


def test_after_a_self_care_outcome_a_check_in_is_offered_and_set_up_with_a_mobile_number(bot, database, sender):
    replies = start(bot, sender, "my calves cramp at night")
    _, outcome = answer_until_outcome(bot, sender, replies)
    assert triage_of(outcome)["level"] == "self_care"
    assert asks(outcome)[-1] == "follow_up", "the offer comes last, after the plan and the safety net"
    assert "check in with you in 3 weeks" in outcome[-1]["text"]
    assert texts(outcome[:-1]).rstrip().endswith("If it is an emergency, call 999."), "the safety net is whole"
    replies = bot.say(sender, "yes please")
    assert asks(replies) == ["follow_up_phone"] and check_ins(database, sender) == []
    replies = bot.say(sender, "it's 07911 123456")
    assert "We'll text you on" in texts(replies) and "999" in texts(replies)
    [check_in] = check_ins(database, sender)
    assert (check_in.contact_value, check_in.presentation, check_in.after_days, check_in.status) == \
        ("+447911123456", "night_cramps", 21, "scheduled")


def test_the_offer_can_be_ignored_and_the_conversation_goes_on(bot, database, sender):
    replies = start(bot, sender, "my lower back aches after gardening")
    _, outcome = answer_until_outcome(bot, sender, replies)
    assert asks(outcome)[-1] == "follow_up"
    replies = bot.say(sender, "tell me more about step 1")
    assert "follow_up" not in asks(replies) and texts(replies)
    replies = bot.say(sender, "yes")
    assert "We'll text you" not in texts(replies) and "number" not in texts(replies)
    assert check_ins(database, sender) == []


def test_no_thanks_sets_nothing_up(bot, database, sender):
    replies = start(bot, sender, "my lower back aches after gardening")
    answer_until_outcome(bot, sender, replies)
    replies = bot.say(sender, "/deny")
    assert "no check-in" in texts(replies) and check_ins(database, sender) == []


def test_no_check_in_is_offered_after_urgent_advice(bot, database, sender):
    replies = seen = bot.say(sender, "my calf is swollen, red and warm")
    assert triage_of(replies)["level"] == "urgent"
    for _ in range(12):     # the questions that could still reveal an emergency, then consent
        if not asks(replies):
            break
        replies = bot.say(sender, "no")
        seen = seen + replies
    assert asks(replies) == [] and "follow_up" not in asks(seen)
    assert "check in" not in texts(seen) and check_ins(database, sender) == []
