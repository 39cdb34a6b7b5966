"""What every action needs: the conversation as knowledge sees it, contact details, storage."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from knowledge.conversation import ConversationState, state_from_events
from knowledge.events import escalations

logger = logging.getLogger(__name__)


def conversation(tracker: Tracker) -> ConversationState:
    return state_from_events(tracker.events)


def last_user_timestamp(tracker: Tracker) -> float:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return float(event.get("timestamp") or 0.0)
    return 0.0


def emergency_announced(tracker: Tracker) -> bool:
    return any(outcome.level == "emergency" for outcome in escalations(tracker.events))


def remind_of_emergency(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """After an emergency, every later answer repeats what to do."""
    if emergency_announced(tracker):
        dispatcher.utter_message(response="utter_emergency_reminder")


@lru_cache(maxsize=1)
def repository():
    from storage.repository import Repository

    return Repository.from_settings()


def store(what: str, write: Callable[..., Any], **fields: Any) -> bool:
    """Write to the clinic's tables; a failure never reaches the patient.

    Triage outcomes are also in the conversation log (the bot's message carries them), where the
    console's projector finds any that could not be written here.
    """
    try:
        write(repository(), **fields)
        return True
    except Exception as error:  # noqa: BLE001  the patient's reply matters more than the write
        logger.warning("could not store %s (%s); it is reconciled from the conversation log later",
                       what, type(error).__name__)
        return False


def now() -> datetime:
    return datetime.now(timezone.utc)
