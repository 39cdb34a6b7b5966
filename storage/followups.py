"""Check-ins patients asked for (the `follow_ups` table): scheduling (the action server, through
Repository.record_follow_up), claiming what is due (the sender, `python -m bot.followups
send-due`), and what the console shows and cancels.

The contact is kept only as long as it is needed: a number is cleared once its check-in is sent,
has failed for good or is cancelled; a check-in in the chat needs no contact at all (the
conversation id is the address).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import phonenumbers
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.conversations import level_rank, lock_conversations
from storage.db import is_postgresql
from storage.models import FOLLOW_UP_METHODS, FollowUp

MAX_ATTEMPTS = 3
REPLACED = "replaced by a newer request"
# Chats where the clinic may write first, weeks later: Telegram and Slack bots, and text messages
# (Twilio SMS). WhatsApp and Messenger allow a business to write only within 24 hours of the
# person's last message (later, only pre-approved templates or message tags), so there, as on the
# website, the check-in goes by text message to a number the patient gives.
CHATS_REACHABLE_LATER = ("telegram", "slack", "twilio")
WHATSAPP_PREFIX = "twilio:whatsapp:"
_TEXTABLE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def reachable_in_chat(channel: str | None, conversation_id: str) -> bool:
    """The clinic can send the check-in in the chat the patient is using (on Slack, only a
    conversation with one person: an id with a channel or thread in it is a shared place)."""
    if channel == "slack" and "_" in conversation_id:
        return False
    return channel in CHATS_REACHABLE_LATER and not conversation_id.startswith(WHATSAPP_PREFIX)


def find_mobile(text: str, region: str) -> str | None:
    """The first valid number in the text that can get text messages, in E.164 form ("+447911123456");
    a number without a country code is read as one of `region`'s."""
    for match in phonenumbers.PhoneNumberMatcher(text or "", region):
        number = match.number
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _TEXTABLE:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def masked(contact_value: str) -> str:
    """A number as staff see it: enough to tell two apart, not enough to call ("+44 •••••••456")."""
    if len(contact_value) < 7:
        return "•" * len(contact_value)
    return f"{contact_value[:3]} {'•' * (len(contact_value) - 6)}{contact_value[-3:]}"


def schedule(session: Session, *, conversation_id: str, channel: str | None, contact_method: str,
             contact_value: str, presentation: str, presentations: list[str], level: str,
             after_days: int, created_at: datetime) -> FollowUp:
    """A new check-in, due `after_days` after it was asked for; it replaces one still scheduled
    for the same conversation (the patient asked again)."""
    if contact_method not in FOLLOW_UP_METHODS:
        raise ValueError(f"contact_method must be one of {FOLLOW_UP_METHODS}")
    if contact_method == "sms" and not contact_value.startswith("+"):
        raise ValueError("an SMS check-in needs a number in E.164 form")
    if not 1 <= after_days <= 366:
        raise ValueError("after_days out of range")
    level_rank(level)
    lock_conversations(session, {conversation_id: (channel, created_at)})
    session.execute(update(FollowUp).where(FollowUp.conversation_id == conversation_id,
                                           FollowUp.status == "scheduled")
                    .values(status="cancelled", contact_value="", updated_at=created_at, updated_by=REPLACED)
                    .execution_options(synchronize_session=False))
    follow_up = FollowUp(
        conversation_id=conversation_id, channel=channel, contact_method=contact_method,
        contact_value=contact_value if contact_method == "sms" else "", presentation=presentation,
        presentations=list(presentations), level=level, after_days=after_days,
        due_at=created_at + timedelta(days=after_days), status="scheduled", attempts=0,
        created_at=created_at, updated_at=created_at)
    session.add(follow_up)
    session.flush()
    return follow_up


def claim_due(session: Session, now: datetime, skip: frozenset[int] | set[int] = frozenset()) -> FollowUp | None:
    """The next due check-in, locked until the session's transaction ends (another sender skips
    it on PostgreSQL); `skip`: ids this run has already passed over."""
    statement = (select(FollowUp).where(FollowUp.status == "scheduled", FollowUp.due_at <= now)
                 .order_by(FollowUp.due_at, FollowUp.id).limit(1))
    if skip:
        statement = statement.where(FollowUp.id.notin_(sorted(skip)))
    if is_postgresql(session.bind):
        statement = statement.with_for_update(skip_locked=True)
    return session.execute(statement).scalars().first()


def count_due(session: Session, now: datetime) -> int:
    return len(session.execute(select(FollowUp.id).where(FollowUp.status == "scheduled",
                                                         FollowUp.due_at <= now)).all())


def mark_sent(follow_up: FollowUp, now: datetime) -> None:
    follow_up.status, follow_up.sent_at, follow_up.updated_at = "sent", now, now
    follow_up.attempts += 1
    follow_up.contact_value = ""


def mark_failed(follow_up: FollowUp, error: BaseException, now: datetime) -> None:
    """A failed send is tried again on the next run, up to MAX_ATTEMPTS in all."""
    follow_up.attempts += 1
    follow_up.last_error = type(error).__name__[:64]
    follow_up.updated_at = now
    if follow_up.attempts >= MAX_ATTEMPTS:
        follow_up.status, follow_up.contact_value = "failed", ""


def cancel(follow_up: FollowUp, by: str, now: datetime) -> bool:
    """Staff stop a scheduled check-in (the patient asked, or it is no longer right)."""
    if follow_up.status != "scheduled":
        return False
    follow_up.status, follow_up.contact_value = "cancelled", ""
    follow_up.updated_at, follow_up.updated_by = now, by
    return True
