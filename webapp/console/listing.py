"""The conversation list: filters, text search and keyset pagination.

Order: most urgent first, then newest activity, then sender id (a total order). Each page
continues from the last row's (urgency_rank, last_activity_at, sender_id), which the btree
indexes on conversations serve directly, so page 2,000 costs what page 1 does.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as day_time
from zoneinfo import ZoneInfo

from sqlalchemy import Text, distinct, func, literal_column, select, tuple_, type_coerce
from sqlalchemy.orm import Session, load_only
from sqlalchemy.sql import Select

from storage.db import is_postgresql
from storage.models import LEVEL_RANKS, REVIEW_STATUSES, Conversation

PAGE_SIZE = 50
SEARCH_CHARS = 200
NO_OUTCOME = "none"
LEVEL_CHOICES = (*LEVEL_RANKS, NO_OUTCOME)
_LIST_COLUMNS = (Conversation.sender_id, Conversation.channel, Conversation.started_at,
                 Conversation.last_activity_at, Conversation.consent, Conversation.max_level,
                 Conversation.urgency_rank, Conversation.red_flags, Conversation.review_status,
                 Conversation.preview, Conversation.text_purged_at)
_ORDER_KEY = (Conversation.urgency_rank, Conversation.last_activity_at, Conversation.sender_id)


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ListFilters:
    level: str | None = None
    red_flag: str | None = None
    status: str | None = None
    channel: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None

    @classmethod
    def from_args(cls, args, search: str | None = None) -> ListFilters:
        """Unknown values are dropped rather than rejected: a stale link still works. The search
        comes from a form (`args` is the posted form) or from an encrypted cursor (`search`)."""
        def text(name: str, limit: int = 64) -> str | None:
            value = (args.get(name) or "").strip()
            return value[:limit] or None

        level = text("level")
        status = text("status")
        return cls(level=level if level in LEVEL_CHOICES else None,
                   red_flag=text("red_flag"),
                   status=status if status in REVIEW_STATUSES else None,
                   channel=text("channel"),
                   date_from=_date(args.get("date_from")), date_to=_date(args.get("date_to")),
                   q=search or text("q", SEARCH_CHARS))

    def as_args(self) -> dict[str, str]:
        return {name: str(value) for name, value in asdict(self).items() if value}

    def link_args(self) -> dict[str, str]:
        """The filters a link may show: all but the search words."""
        return {name: value for name, value in self.as_args().items() if name != "q"}

    def audit_details(self) -> dict[str, str | bool]:
        """What the audit log may keep: the search words could name a patient."""
        details = {k: v for k, v in self.as_args().items() if k != "q"}
        if self.q:
            details["search"] = True
        return details


CursorKey = tuple  # (urgency_rank, last_activity_at, sender_id): where a page starts


@dataclass
class Page:
    rows: list[Conversation]
    next_key: CursorKey | None = None
    prev_key: CursorKey | None = None


def cursor_key(row: Conversation) -> CursorKey:
    return row.urgency_rank, row.last_activity_at, row.sender_id


def cursor_text(key: CursorKey, search: str | None) -> str:
    """A cursor as text, to be encrypted: it holds a sender id, and the search it continues."""
    rank, at, sender_id = key
    return json.dumps([rank, at.isoformat(), sender_id, search])


def cursor_from_text(text: str | None) -> tuple[CursorKey, str | None] | None:
    """(key, search) from cursor_text's output; None when it is not one."""
    if not text:
        return None
    try:
        rank, at, sender_id, search = json.loads(text)
        return (int(rank), datetime.fromisoformat(at).astimezone(timezone.utc), str(sender_id)), \
            (str(search)[:SEARCH_CHARS] if search else None)
    except (ValueError, TypeError):
        return None


def filtered(filters: ListFilters, zone: ZoneInfo, postgres: bool) -> Select:
    query = select(Conversation).options(load_only(*_LIST_COLUMNS))
    if filters.level:
        query = query.where(Conversation.urgency_rank == LEVEL_RANKS.get(filters.level, 0))
    if filters.red_flag:
        # Matched in the JSON text: '["cauda_equina", ...]' contains '"cauda_equina"'.
        flags_text = type_coerce(Conversation.red_flags, Text)
        query = query.where(flags_text.contains(f'"{filters.red_flag}"', autoescape=True))
    if filters.status:
        query = query.where(Conversation.review_status == filters.status)
    if filters.channel:
        query = query.where(Conversation.channel == filters.channel)
    if filters.date_from:
        start = datetime.combine(filters.date_from, day_time(), zone)
        query = query.where(Conversation.last_activity_at >= start)
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), day_time(), zone)
        query = query.where(Conversation.last_activity_at < end)
    if filters.q:
        if postgres:
            query = query.where(literal_column("conversations.search_vector").op("@@")(
                func.websearch_to_tsquery("english", filters.q)))
        else:
            for word in filters.q.split():
                query = query.where(Conversation.search_text.contains(word, autoescape=True))
    return query


def page_query(filters: ListFilters, zone: ZoneInfo, postgres: bool, *, after: tuple | None,
               before: tuple | None, limit: int) -> Select:
    query = filtered(filters, zone, postgres)
    key = tuple_(*_ORDER_KEY)
    if before is not None:
        return query.where(key > tuple_(*before)).order_by(*_ORDER_KEY).limit(limit + 1)
    if after is not None:
        query = query.where(key < tuple_(*after))
    return query.order_by(*(column.desc() for column in _ORDER_KEY)).limit(limit + 1)


def conversation_page(session: Session, filters: ListFilters, zone: ZoneInfo, *,
                      after: CursorKey | None = None, before: CursorKey | None = None,
                      limit: int = PAGE_SIZE) -> Page:
    query = page_query(filters, zone, is_postgresql(session.bind), after=after,
                       before=before if after is None else None, limit=limit)
    rows = session.execute(query).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    if before is not None and after is None:
        rows.reverse()
        return Page(rows, next_key=cursor_key(rows[-1]) if rows else None,
                    prev_key=cursor_key(rows[0]) if more and rows else None)
    return Page(rows, next_key=cursor_key(rows[-1]) if more else None,
                prev_key=cursor_key(rows[0]) if after is not None and rows else None)


_options_cache: dict[str, tuple[float, dict]] = {}


def filter_options(session: Session, ttl_seconds: float = 60) -> dict[str, list[str]]:
    """Red flags and channels seen so far, for the filter menus (cached per database)."""
    cache_key = str(session.bind.url)
    cached = _options_cache.get(cache_key)
    if cached and time.monotonic() - cached[0] < ttl_seconds:
        return cached[1]
    flag_lists = session.execute(select(distinct(Conversation.red_flags)).where(
        Conversation.red_flags != [])).scalars()
    channels = session.execute(select(distinct(Conversation.channel)).where(
        Conversation.channel.isnot(None))).scalars()
    options = {"red_flags": sorted({flag for flags in flag_lists for flag in flags}),
               "channels": sorted(channels)}
    _options_cache[cache_key] = (time.monotonic(), options)
    return options
