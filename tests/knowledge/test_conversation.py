"""A conversation's answers and corrections become findings the same way everywhere."""
from knowledge.conversation import conversation_state, state_from_events
from knowledge.nlp.pipeline import analyse
from knowledge.turns import Turn, turn_from_analysis, turns_from_events


def said(text: str, asked: str | None = None, intent: str | None = None, confidence: float = 0.0) -> Turn:
    analysis = analyse(text)
    return turn_from_analysis(text, analysis, asked, intent, confidence)


def test_free_text_yes_to_cauda_equina_question_escalates():
    state = conversation_state([said("my back hurts"), said("yes, both legs", asked="cauda_equina")])
    outcome = state.outcome()
    assert outcome.level == "emergency"
    assert "cauda_equina" in outcome.red_flags


def test_not_really_marks_every_item_absent():
    state = conversation_state([said("my back hurts"), said("not really", asked="cauda_equina")])
    assert state.findings["bladder_dysfunction"] == "absent"
    assert state.findings["saddle_numbness"] == "absent"
    assert "cauda_equina" not in [q.id for q in state.outcome().pending]


def test_a_qualified_yes_counts_as_yes_and_asks_which():
    state = conversation_state([said("my back hurts"), said("only when I cough", asked="cauda_equina")])
    assert state.outcome().pending[0].id == "cauda_equina", "which of these comes next"
    state = conversation_state([said("my back hurts"), said("only when I cough", asked="cauda_equina"),
                                said("the peeing one", asked="cauda_equina")])
    assert state.outcome().level == "emergency"
    assert state.findings["bladder_dysfunction"] == "present"
    assert "sexual_dysfunction" not in state.findings


def test_not_sure_is_recorded_and_not_asked_again():
    state = conversation_state([said("my back hurts"), said("I'm not sure", asked="major_trauma")])
    assert state.findings["major_trauma"] == "uncertain"
    assert "major_trauma" not in [q.id for q in state.outcome().pending]


def test_not_sure_about_an_emergency_sign_is_not_a_no_but_means_being_seen_today():
    state = conversation_state([said("my back hurts"), said("hmm not sure", asked="cauda_equina")])
    outcome = state.outcome()
    assert (outcome.level, outcome.red_flags, outcome.rule_ids) == ("urgent", ("cauda_equina",), ("cauda_equina.unsure",))
    rest = conversation_state([said("my back hurts"), said("hmm not sure", asked="cauda_equina"),
                               said("no", asked="major_trauma"), said("no", asked="spinal_infection")]).outcome()
    assert rest.level == "urgent", "answering no to the rest does not undo it"


def test_not_sure_about_an_urgent_sign_means_booking_an_appointment():
    state = conversation_state([said("my calf hurts"), said("not sure", asked="dvt")])
    assert (state.outcome().level, state.outcome().rule_ids) == ("routine", ("dvt.unsure",))


def test_a_no_that_names_a_symptom_still_raises_it():
    state = conversation_state([said("my back hurts"), said("no, but I've wet myself", asked="cauda_equina")])
    assert state.findings["bladder_dysfunction"] == "present"
    assert state.outcome().level == "emergency"


def test_intent_classifier_answers_only_when_the_lexicon_cannot():
    turn = said("yh", asked="major_trauma", intent="affirm", confidence=0.9)
    assert turn.answer is None and turn.polarity == "affirm"
    unsure_model = said("yh", asked="major_trauma", intent="affirm", confidence=0.3)
    assert unsure_model.polarity is None
    lexicon_wins = said("no", asked="major_trauma", intent="affirm", confidence=0.99)
    assert lexicon_wins.polarity == "deny"


def test_the_patient_can_correct_themselves():
    state = conversation_state([said("my calf is swollen"), said("sorry, my calf is not swollen")])
    assert state.findings["calf_swelling"] == "absent"


def test_findings_answered_in_passing_are_not_asked():
    state = conversation_state([said("my lower back aches, I haven't had any accident and no fever")])
    pending = [q.id for q in state.outcome().pending]
    assert "major_trauma" not in pending
    assert state.findings["fever"] == "absent"


def _user(text, intent="describe_symptoms", entities=()):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent, "confidence": 0.95},
                                                         "entities": list(entities)}}


def _bot(text, ask=None):
    return {"event": "bot", "text": text, "data": {"custom": {"ask": ask} if ask else None}}


def test_turns_are_read_from_rasa_events_with_the_question_that_was_asked():
    events = [
        {"event": "action", "name": "action_session_start"}, {"event": "session_started"},
        _user("my back hurts", entities=[{"entity": "finding", "value": "back_pain", "role": "present"}]),
        _bot("Did it start after a serious accident?", ask="major_trauma"),
        _user("/affirm", intent="affirm"),
    ]
    turns = turns_from_events(events)
    assert [t.asked for t in turns] == [None, "major_trauma"]
    assert state_from_events(events).outcome().level == "emergency"


def test_a_bot_message_without_a_question_ends_the_question():
    events = [_user("my back hurts", entities=[{"entity": "finding", "value": "back_pain", "role": "present"}]),
              _bot("Have you noticed...", ask="cauda_equina"), _bot("Here is your plan"),
              _user("/affirm", intent="affirm")]
    assert turns_from_events(events)[-1].asked is None


def test_restart_forgets_the_previous_conversation():
    events = [_user("back", entities=[{"entity": "finding", "value": "back_pain", "role": "present"}]),
              {"event": "restart"}, _user("hello", intent="greet")]
    assert state_from_events(events).findings == {}


def test_consent_answer_is_read_from_the_consent_question():
    events = [_bot("May we keep this conversation?", ask="consent"), _user("/deny", intent="deny")]
    assert state_from_events(events).consent is False


def test_the_question_asked_can_come_from_the_forms_requested_slot():
    events = [_user("my back hurts", entities=[{"entity": "finding", "value": "back_pain", "role": "present"}]),
              {"event": "slot", "name": "requested_slot", "value": "major_trauma"},
              _user("/affirm", intent="affirm")]
    assert turns_from_events(events)[-1].asked == "major_trauma"
    assert state_from_events(events).outcome().level == "emergency"
