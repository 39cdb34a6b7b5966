"""How bot messages look on each channel, in one place.

A Rasa response is first merged into one message (``merge_response``); the web channels
send that as JSON, the messaging channels ``render`` it for their platform: escalations
first, custom plan/triage payloads as text, buttons as native quick replies or numbered
options, text split to the platform's length limit.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from clinic.settings import contact_details
from knowledge.model import ESCALATING_LEVELS, knowledge

logger = logging.getLogger(__name__)

PASSED_THROUGH_KEYS = ("custom", "image", "attachment")
_NOTICES = knowledge().advice["channel_notices"]   # patient-facing text lives in knowledge/data
CHOOSE_PROMPT = _NOTICES["choose_prompt"]

# "2", " 2 ", "2." or "2)" — a reply to numbered options.
_NUMBERED_REPLY = re.compile(r"\s*(\d{1,2})\s*[.)]?\s*")
# Boundaries to split long texts on, best first; words, then a hard cut, come last.
_SPLIT_BOUNDARIES = (r"\n\s*\n", r"\n", r"(?<=[.!?])\s+", r"\s+")

Message = Dict[str, Any]


# --- Patient-facing notices -------------------------------------------------------------

def emergency_line() -> str:
    return _NOTICES["emergency_line"].format(**contact_details())


def urgent_line() -> str:
    return _NOTICES["urgent_line"].format(**contact_details())


RATE_LIMITED_TEXT = _NOTICES["rate_limited"]
FALLBACK_TEXT = _NOTICES["fallback"]


def notice_messages(recipient_id: str, notice: str) -> List[Message]:
    """A notice the channel itself sends, always led by the emergency line."""
    return [{"recipient_id": recipient_id, "text": emergency_line()},
            {"recipient_id": recipient_id, "text": notice}]


def failure_messages(recipient_id: str, text: str) -> List[Message]:
    """What a channel sends when the dialogue failed on a message (the database or the model
    unavailable): the advice for any emergency or urgent sign in the message itself, read
    without the rest of the conversation, then the emergency line and the apology."""
    advice: List[Message] = []
    try:
        from knowledge.conversation import conversation_state
        from knowledge.messages import escalation_message
        from knowledge.nlp.pipeline import analyse
        from knowledge.turns import turn_from_analysis

        analysis = analyse(text)
        state = conversation_state([turn_from_analysis(text, analysis)])
        outcome = state.outcome()
        if outcome.is_escalation:
            advice = [{"recipient_id": recipient_id, **escalation_message(outcome, contact_details(), state.findings)}]
    except Exception as error:  # the apology and the emergency line still go out
        logger.error("The message could not be checked for emergencies (%s)", type(error).__name__)
    return advice + notice_messages(recipient_id, FALLBACK_TEXT)


# --- One message per Rasa response ------------------------------------------------------

def normalize_buttons(raw: Any) -> List[Dict[str, str]]:
    """Buttons as [{"title", "payload"}]; malformed entries are dropped."""
    if not isinstance(raw, list):
        return []
    buttons = []
    for button in raw:
        if isinstance(button, dict) and isinstance(button.get("title"), str):
            payload = button.get("payload")
            buttons.append({"title": button["title"],
                            "payload": payload if isinstance(payload, str) else button["title"]})
    return buttons


def merge_response(recipient_id: str, response: Dict[str, Any]) -> Message:
    """Text, buttons, custom and image of one response as ONE message (Rasa splits them)."""
    merged: Message = {"recipient_id": recipient_id}
    text = response.get("text")
    if isinstance(text, str) and text.strip():
        merged["text"] = text
    buttons = normalize_buttons(response.get("buttons") or response.get("quick_replies"))
    if buttons:
        merged["buttons"] = buttons
    for key in PASSED_THROUGH_KEYS:
        if response.get(key):
            merged[key] = response[key]
    return merged


def triage_level(message: Message) -> Optional[str]:
    custom = message.get("custom")
    triage = custom.get("triage") if isinstance(custom, dict) else None
    level = triage.get("level") if isinstance(triage, dict) else None
    return level if isinstance(level, str) else None


def is_escalation(message: Message) -> bool:
    return triage_level(message) in ESCALATING_LEVELS


def escalations_first(messages: Iterable[Message]) -> List[Message]:
    """Emergency/urgent advice leads the batch; the order is otherwise kept."""
    return sorted(messages, key=lambda message: not is_escalation(message))


# --- Text for channels that cannot show custom JSON ---------------------------------------

def custom_as_text(custom: Any, text: str) -> str:
    """Plan steps not already in ``text``; for a custom-only triage, its advice line."""
    if not isinstance(custom, dict):
        return ""
    parts = []
    plan = custom.get("plan")
    if isinstance(plan, list):
        for number, step in enumerate((s for s in plan if isinstance(s, dict)), start=1):
            title = str(step.get("title") or "").strip()
            body = str(step.get("text") or "").strip()
            if body and body in text:
                continue
            parts.append(f"{number}. {title}\n{body}".strip())
    if not text:
        level = triage_level({"custom": custom})
        if level == "emergency":
            parts.append(emergency_line())
        elif level == "urgent":
            parts.append(urgent_line())
    return "\n\n".join(parts)


def message_as_text(message: Message) -> str:
    text = (message.get("text") or "").strip()
    image = message.get("image")
    parts = [text, custom_as_text(message.get("custom"), text), str(image) if image else ""]
    rendered = "\n\n".join(part for part in parts if part)
    if not rendered and message.get("custom"):
        logger.warning("A custom-only bot message has no text rendering (keys: %s)",
                       sorted(message["custom"]) if isinstance(message["custom"], dict) else "?")
    return rendered


# --- Numbered options (SMS, WhatsApp, and when native buttons do not fit) -----------------

def numbered_options(buttons: Sequence[Dict[str, str]]) -> str:
    """ "Reply 1 for Yes, 2 for No, 3 for Not sure" """
    return "Reply " + ", ".join(
        f"{number} for {button['title']}" for number, button in enumerate(buttons, start=1))


def numbered_choice(text: str) -> Optional[int]:
    """The number in a reply such as "2", " 2 ", "2." or "2)"; None for other text."""
    match = _NUMBERED_REPLY.fullmatch(text or "")
    return int(match.group(1)) if match else None


# --- Splitting ------------------------------------------------------------------------------

def split_text(text: str, limit: int, _level: int = 0) -> List[str]:
    """Chunks of at most ``limit`` characters, cut on paragraphs, lines, sentences, words."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    if _level == len(_SPLIT_BOUNDARIES):
        return [text[start:start + limit] for start in range(0, len(text), limit)]
    pieces = re.split(f"({_SPLIT_BOUNDARIES[_level]})", text)  # text, boundary, text, ...
    chunks: List[str] = []
    current = ""
    for index in range(0, len(pieces), 2):
        piece = pieces[index]
        boundary = pieces[index - 1] if index else ""
        if current and len(current) + len(boundary) + len(piece) <= limit:
            current += boundary + piece
            continue
        if current:
            chunks.append(current)
        if len(piece) > limit:
            chunks.extend(split_text(piece, limit, _level + 1))
            current = ""
        else:
            current = piece
    if current:
        chunks.append(current)
    return [chunk.strip() for chunk in chunks if chunk.strip()]


# --- Per-channel rendering --------------------------------------------------------------

@dataclass(frozen=True)
class ChannelProfile:
    name: str
    max_chars: int
    # Native buttons and their limits; max_buttons 0 means numbered options only.
    max_buttons: int = 0
    max_button_title: int = 0
    max_payload_bytes: int = 0

    def native_buttons_fit(self, buttons: Sequence[Dict[str, str]]) -> bool:
        return 0 < len(buttons) <= self.max_buttons and all(
            len(button["title"]) <= self.max_button_title
            and len(button["payload"].encode("utf-8")) <= self.max_payload_bytes
            for button in buttons)


TELEGRAM = ChannelProfile("telegram", 4096, max_buttons=10, max_button_title=64,
                          max_payload_bytes=64)
SLACK = ChannelProfile("slack", 3000, max_buttons=25, max_button_title=75,
                       max_payload_bytes=2000)
MESSENGER = ChannelProfile("facebook", 2000, max_buttons=13, max_button_title=20,
                           max_payload_bytes=1000)
WHATSAPP = ChannelProfile("whatsapp", 4096)
SMS = ChannelProfile("sms", 1600)  # Twilio's limit for a concatenated SMS


@dataclass(frozen=True)
class Outgoing:
    """One platform message: text within the limit, native buttons on the last part."""
    text: str
    buttons: Tuple[Dict[str, str], ...] = ()


def render(messages: Iterable[Message], profile: ChannelProfile) -> List[Outgoing]:
    outgoing: List[Outgoing] = []
    for message in escalations_first(messages):
        body = message_as_text(message)
        buttons = message.get("buttons") or []
        native = buttons if profile.native_buttons_fit(buttons) else []
        if buttons and not native:
            body = "\n\n".join(part for part in (body, numbered_options(buttons)) if part)
        chunks = split_text(body or (CHOOSE_PROMPT if native else ""), profile.max_chars)
        if not chunks:
            continue
        outgoing.extend(Outgoing(chunk) for chunk in chunks[:-1])
        outgoing.append(Outgoing(chunks[-1], tuple(native)))
    return outgoing
