"""The scripted conversation of the widget tests, in one place.

The fake Rasa server (fake_rasa.py) answers from these turns; the browser tests play the
patient's side and check each turn's `expect` text. To run the same tests against the real
bot, override the `rasa_socketio_url` fixture and make `type`/`click`/`expect` match the real
bot's stories (the `replies` are then only the fake's).

Replies use our channel's payload: {"text"?, "buttons"?: [{"title","payload"}], "custom"?}.
"""
from __future__ import annotations

from dataclasses import dataclass

INIT_PAYLOAD = "/greet"  # what the widget sends to open a conversation (data-init-payload)
EMERGENCY_NUMBER = "999"
CLINIC_PHONE = "01632 960000"

YES_NO = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


@dataclass(frozen=True)
class Turn:
    """What the patient does, what the fake bot answers, and text that must then show.

    Exactly one of `type` (typed text) and `click` (a button's title) is set, except for
    the opening turn: the widget's own opening payload, not shown to the patient.
    """

    replies: tuple[dict, ...]
    expect: str
    type: str | None = None
    click: str | None = None


OPENING = Turn(
    replies=({
        "text": "Hello, I'm the clinic's symptom checker. I'll ask a few questions about your "
                "back or calf and tell you what to do next.\n\nDo you agree to us keeping this "
                "conversation so a clinician can read it?",
        "buttons": YES_NO,
    },),
    expect="Do you agree",
)

PLAN = [
    {"id": "keep_moving", "title": "Keep moving",
     "text": "Walk a little every hour; bed rest makes back pain last longer."},
    {"id": "pain_relief", "title": "Pain relief",
     "text": "Take ibuprofen or paracetamol as the packet says, if they are safe for you."},
    {"id": "heat", "title": "Heat",
     "text": "A warm (not hot) pack on your lower back for 15 minutes eases muscle spasm."},
    {"id": "when_to_call", "title": "When to call us",
     "text": "Call the clinic if it is not improving after 2 weeks."},
]
PLAN_TITLES = [step["title"] for step in PLAN]

EXPLANATION_LINKS = [
    {"title": "Back pain: self-care advice", "url": "https://www.nhs.uk/conditions/back-pain/"},
    {"title": "Our back exercises", "url": "/exercises/back"},
]

# From consent to the self-care outcome.
TO_SELF_CARE = (
    Turn(
        click="Yes",
        replies=({"text": "Thank you. Tell me in your own words what is troubling you."},),
        expect="in your own words",
    ),
    Turn(
        type="My lower back has hurt since I lifted a box last week",
        replies=({
            "text": "Do you have any numbness or tingling around your bottom or genitals?",
            "buttons": YES_NO,
            "custom": {"ask": "saddle_numbness"},
        },),
        expect="numbness or tingling",
    ),
    Turn(
        click="No",
        replies=(
            {
                "text": "Thank you. Your answers suggest back pain you can look after at home.",
                "custom": {"triage": {"level": "self_care",
                                      "plan": [step["id"] for step in PLAN]}},
            },
            {
                "text": "Here is your self-care plan:",
                "custom": {
                    "plan": PLAN,
                    "explanation": {
                        "text": "Most back pain gets better within a few weeks.",
                        "links": EXPLANATION_LINKS,
                    },
                },
            },
        ),
        expect="self-care plan",
    ),
)

# Free-text turns the fake answers at any point of the conversation.
EMERGENCY = Turn(
    type="I can't feel it when I wipe",
    replies=({
        "text": "Numbness when you wipe can be a sign of cauda equina syndrome, which needs "
                f"treatment straight away.\nCall {EMERGENCY_NUMBER} now or go to A&E.",
        "custom": {"triage": {"level": "emergency", "call": EMERGENCY_NUMBER}},
    },),
    expect="cauda equina",
)

URGENT = Turn(
    type="My calf is swollen, red and hot",
    replies=({
        "text": "A swollen, red, hot calf needs checking today for a blood clot.",
        "custom": {"triage": {"level": "urgent"}},
    },),
    expect="checking today",
)

FREE_TEXT_TURNS = (EMERGENCY, URGENT)
