"""The clinic's opening hours (CLINIC_HOURS, e.g. "Mon-Fri 08:00-18:00; Sat 09:00-12:00")."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^\s*(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)\s+"
                   r"(?P<open>\d{1,2}:\d{2})\s*-\s*(?P<close>\d{1,2}:\d{2})\s*$", re.I)


@dataclass(frozen=True)
class OpeningHours:
    spans: tuple[tuple[int, time, time], ...]      # (weekday, opens, closes)
    timezone: str

    @classmethod
    def parse(cls, text: str, timezone: str) -> "OpeningHours":
        spans = []
        for part in filter(str.strip, text.split(";")):
            match = _SPAN.match(part)
            if not match:
                raise ValueError(f"CLINIC_HOURS: cannot read {part.strip()!r} (expected e.g. 'Mon-Fri 08:00-18:00')")
            opens, closes = (time.fromisoformat(match[g].zfill(5)) for g in ("open", "close"))
            for chunk in match["days"].lower().replace(" ", "").split(","):
                first, _, last = chunk.partition("-")
                start, end = DAYS.index(first[:3]), DAYS.index((last or first)[:3])
                spans += [(day % 7, opens, closes) for day in range(start, end + 1 if end >= start else end + 8)]
        return cls(tuple(spans), timezone)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        return any(day == local.weekday() and opens <= local.time() < closes for day, opens, closes in self.spans)

