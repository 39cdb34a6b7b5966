"""What the patient does in the widget tests and what the REAL bot must then show, in one place.

The browser tests (test_widget.py) play the patient's side against the real Rasa server
(tests/conftest.py's `bot`) and wait for each turn's `expect` text. The texts come from the
bot's stories and knowledge: when the bot's wording changes, change it here.

The fake bot (fake_rasa.py), kept for what only a fake can do (dropping connections), has
its own scripted replies there.
"""
from __future__ import annotations

from dataclasses import dataclass

INIT_PAYLOAD = "/greet"  # what the widget sends to open a conversation (data-init-payload)
EMERGENCY_NUMBER = "999"  # tests/conftest.py starts the bot with CLINIC_EMERGENCY_NUMBER=999
CLINIC_PHONE = "01632 960000"  # the bot's default CLINIC_PHONE, which the page is given too


@dataclass(frozen=True)
class Turn:
    """What the patient does and text that must then show in the conversation.

    Exactly one of `type` (typed text) and `click` (a button's title) is set, except for
    the opening turn: the widget's own opening payload, not shown to the patient.
    `replies` are only the fake bot's (fake_rasa.py).
    """

    expect: str
    type: str | None = None
    click: str | None = None
    replies: tuple[dict, ...] = ()


# The opening: a greeting, then the consent question with its buttons.
OPENING = Turn(expect="Can the clinic keep this conversation so our staff can review it?")
CONSENT_BUTTONS = ["Yes, keep it", "No"]
OPENING_MESSAGES = 2

# From consent to the self-care outcome for calf cramps: typing and clicking, "no" to each
# question (the calf questions only, the most dangerous first).
TO_SELF_CARE = (
    Turn(click="Yes, keep it", expect="Tell me in your own words what's bothering you"),
    Turn(type="my calves feel tight and cramp at night",
         expect="Is one calf or leg any of these, compared with the other?"),
    Turn(click="No", expect="About your cramps, have you noticed any of these?"),
    # The outcome: level and why, the plan (in two messages), then the safety net, last.
    Turn(type="no", expect="If anything changes or you're not sure, tell me or call the clinic on "
                           f"{CLINIC_PHONE}."),
)
OUTCOME_TEXT = "Nothing you've told me needs urgent care, so you can start with self-care at home."
# The plan (custom.plan), in the clinic's order: the shin muscles before the calf stretches.
PLAN_IDS = ["heel_walking", "gastrocnemius_stretch", "soleus_stretch", "cramp_relief", "root_cause_assessment"]
CALF_STEPS = ("gastrocnemius_stretch", "soleus_stretch")
PLAN_INTRO = "Your self-care plan, in the order the clinic recommends:"
HEEL_WALKING_TEXT = "Walk slowly on your heels with your toes up"

# Free text that escalates at any point of the conversation.
EMERGENCY = Turn(type="I can't feel it when I wipe and my back is killing me",
                 expect=f"This could be serious. Please call {EMERGENCY_NUMBER} now.")
# The emergency advice's first bullet ("- ..." lines of the bot's text become a list).
EMERGENCY_FIRST_STEP = f"Call {EMERGENCY_NUMBER} now, or go straight to the nearest emergency department."
URGENT = Turn(type="My calf is swollen, red and hot",
              expect="You should be seen by a clinician today.")
