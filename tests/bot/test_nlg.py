"""Messages rendered inside the Rasa server, which must survive an action-server failure."""
import asyncio
from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlg import ClinicNLG
from tests.conversation_events import action, asked, user


def render(utter: str, events: list[dict]) -> dict:
    tracker = DialogueStateTracker.from_dict("patient-1", events, [])
    return asyncio.run(ClinicNLG(domain=Domain.from_path("bot/domain")).generate(utter, tracker, "rest"))


def test_a_yes_waiting_for_which_of_these_gets_the_emergency_advice_if_the_action_server_fails():
    events = [action("action_listen"), user("my back hurts"), *asked("cauda_equina"), action("action_listen"),
              user("/affirm", "affirm"), action("triage_form")]
    text = render("utter_degraded", events)["text"]
    assert "999" in text and "Call 999 now" in text, "the question may never come: yes counts as yes"


def test_which_of_these_offers_one_button_per_item_not_yet_answered():
    events = [action("action_listen"), user("my back hurts, no trouble peeing"), *asked("cauda_equina"),
              action("action_listen"), user("yes", "affirm")]
    message = render("utter_ask_cauda_equina", events)
    payloads = [b["payload"] for b in message["buttons"]]
    assert message["custom"] == {"ask": "cauda_equina", "which": True}
    assert '/describe_symptoms{"finding": "saddle_numbness"}' in payloads and "/unsure" in payloads
    assert not any("bladder_dysfunction" in p for p in payloads)


def test_every_response_fills_its_placeholders_and_the_fallbacks_name_the_emergency_number():
    import yaml

    from knowledge.messages import response_values
    responses = yaml.safe_load((Path(__file__).parents[2] / "bot/domain/responses.yml").read_text())["responses"]
    contact = {"emergency_number": "999", "urgent_number": "111", "clinic_phone": "01632 960000",
               "clinic_hours": "Mon-Fri 9-5", "clinic_name": "the clinic", "out_of_hours": "We open at 9."}
    # what actions pass with the response (actions/handoff.py, actions/follow_up.py)
    values = dict(response_values(contact), check_in_after="2 weeks", check_in_date="Tuesday 17 March")
    for name, variants in responses.items():
        for variant in variants:
            text = variant.get("text", "").format_map(values)
            assert "{" not in text, name
    for name in ("utter_opening", "utter_default", "utter_please_rephrase", "utter_degraded", "utter_handoff_left"):
        assert "call 999" in responses[name][0]["text"].format_map(values), name
