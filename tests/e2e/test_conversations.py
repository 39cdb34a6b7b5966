"""Whole conversations with the real servers over REST (issue 3's must-show list)."""
import pytest

pytestmark = pytest.mark.servers


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def triage_of(replies: list[dict]) -> dict | None:
    return next(((r.get("custom") or {}).get("triage") for r in replies if (r.get("custom") or {}).get("triage")), None)


def asks(replies: list[dict]) -> list[str]:
    return [(r.get("custom") or {}).get("ask") for r in replies if (r.get("custom") or {}).get("ask")]


def answer_until_outcome(bot, sender, replies, answer="no", limit=25):
    """Answer every question with `answer`; return (questions asked, the outcome replies)."""
    asked = []
    for _ in range(limit):
        if triage_of(replies):
            return asked, replies
        asked += asks(replies)
        replies = bot.say(sender, answer)
    raise AssertionError(f"no outcome after {limit} answers; asked {asked}")


def start(bot, sender, first_message):
    """First message, then yes to keeping the conversation."""
    opening = bot.say(sender, first_message)
    assert asks(opening)[-1] == "consent"
    assert "not a doctor" in texts(opening) and "999" in texts(opening)
    return bot.say(sender, "/affirm")


def test_emergency_in_the_first_message_escalates_with_no_question_asked(bot, sender):
    replies = bot.say(sender, "I can't feel it when I wipe and my back is killing me")
    triage = triage_of(replies)
    assert triage["level"] == "emergency" and triage["red_flags"] == ["cauda_equina"]
    assert triage["protocol_version"] and triage["rules"] == ["cauda_equina.saddle_or_sphincter"]
    assert replies[0]["text"].startswith("This could be serious. Please call 999 now.")
    assert "Don't drive yourself" in texts(replies)
    assert asks(replies) == ["consent"], "no screening question; consent only after the advice"
    replies = bot.say(sender, "/deny")
    assert "call 999 now" in texts(replies) and asks(replies) == [], "a reminder, and the screen stays over"


def test_a_negated_red_flag_does_not_escalate(bot, sender):
    replies = bot.say(sender, "my lower back aches but there's no numbness down there")
    assert triage_of(replies) is None
    assert asks(replies) == ["consent"]


def test_a_red_flag_revealed_in_an_answer_escalates_at_once(bot, sender):
    replies = start(bot, sender, "my lower back hurts")
    assert asks(replies) == ["cauda_equina"]
    replies = bot.say(sender, "yes, both legs")
    assert triage_of(replies)["level"] == "emergency"
    assert replies[0]["text"].startswith("This could be serious")
    assert asks(replies) == []


def test_self_care_case_gets_the_plan_with_dorsiflexors_before_calves(bot, sender):
    replies = start(bot, sender, "my calves feel tight and cramp at night")
    asked, outcome = answer_until_outcome(bot, sender, replies)
    assert asked == ["dvt", "frequent_cramps"], "calf questions only, most dangerous first"
    triage = triage_of(outcome)
    assert triage["level"] == "self_care"
    plan = triage["plan"]
    assert plan.index("heel_walking") < plan.index("gastrocnemius_stretch") < plan.index("soleus_stretch")
    assert plan[-1] == "safety_net"
    shown = [step for r in outcome if "plan" in (r.get("custom") or {}) for step in r["custom"]["plan"]]
    assert [step["id"] for step in shown] == plan[:-1] and len(shown) <= 5
    assert triage["presentations"] == ["calf_tension", "night_cramps"]
    assert "Night cramps are common" in texts(outcome) and all(len(r.get("text") or "") <= 600 for r in outcome)
    assert texts(outcome).rstrip().endswith("call the clinic on 01632 960000. If it is an emergency, call 999.")


def test_after_the_outcome_tell_me_more_about_a_step_and_why(bot, sender):
    replies = start(bot, sender, "my calves cramp at night")
    answer_until_outcome(bot, sender, replies)
    replies = bot.say(sender, "tell me more about step 1")
    assert texts(replies).startswith("Wake up the shin muscles first") and "usually weak" in texts(replies)
    replies = bot.say(sender, "why?")
    assert texts(replies).startswith("Why this plan: Night cramps are common")
    assert all(len(r.get("text") or "") <= 600 for r in replies)


def test_a_question_the_patient_already_answered_is_not_asked_again(bot, sender):
    replies = start(bot, sender, "my back aches, I haven't had any accident or fall and I've had no fever")
    asked, _ = answer_until_outcome(bot, sender, replies)
    assert "major_trauma" not in asked
    assert len(asked) == len(set(asked)), "no question twice"


def test_knowledge_questions_are_answered_mid_form_and_the_form_goes_on(bot, sender):
    replies = start(bot, sender, "my lower back hurts")
    question = asks(replies)[0]
    replies = bot.say(sender, "what is the soleus?")
    assert "soleus" in texts(replies).lower() and "tibial nerve" in texts(replies)
    assert asks(replies) == [question]
    replies = bot.say(sender, "does crossing my legs matter?")
    assert "peroneal nerve" in texts(replies) and asks(replies) == [question]


def test_declining_consent_still_gets_advice(bot, sender):
    bot.say(sender, "hello")
    replies = bot.say(sender, "/deny")
    assert "same advice" in texts(replies)
    assert asks(replies) == ["complaint"]


@pytest.mark.parametrize("message", [
    "", "   ", "x" * 10_000, "😀🙏🔥", "Me duele mucho la espalda", "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>", "'; DROP TABLE events; --", "\u202e\u0000\u200bweird", "🦵" * 500,
])
def test_bad_input_always_gets_a_clear_reply(bot, sender, message):
    replies = bot.say(sender, message)
    assert replies and all(r.get("text") for r in replies)
    assert "999" in texts(replies), "the emergency number is always in the answer"
    assert "<script>" not in texts(replies) and "DROP TABLE" not in texts(replies), "nothing echoed"


def test_someone_elses_cancer_is_not_a_red_flag_but_the_patients_own_is(bot, sender):
    replies = bot.say(sender, "my dad had cancer and my back hurts")
    assert triage_of(replies) is None
    other = sender + "-own"
    replies = bot.say(other, "I had bowel cancer three years ago and now my leg feels weak and my back hurts")
    assert triage_of(replies)["level"] == "emergency"
    assert "spinal_cord_compression" in triage_of(replies)["red_flags"]


def test_asking_for_a_person_records_a_callback_request(bot, sender):
    start(bot, sender, "my back hurts")
    replies = bot.say(sender, "can I talk to a real person please")
    assert asks(replies) == ["contact_method"]
    replies = bot.say(sender, "phone")
    assert asks(replies) == ["contact_value"]
    replies = bot.say(sender, "07700 900123")
    assert asks(replies) == ["contact_consent"]
    replies = bot.say(sender, "/affirm")
    assert "passed your request to the clinic team" in texts(replies)
    assert asks(replies) == ["cauda_equina"], "the screen resumes"
