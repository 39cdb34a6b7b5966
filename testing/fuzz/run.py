"""Fuzzing a channel, tallying the outcomes, and checking the bot still answers afterwards."""
from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any, Callable, Dict, List, Optional, Tuple

import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from testing.fuzz.cases import (
    Case,
    fresh_sender,
    messenger_cases,
    rest_cases,
    slack_cases,
    socketio_cases,
    telegram_cases,
    twilio_cases,
)
from testing.fuzz.send import REQUEST_TIMEOUT, send_rest, send_socketio, send_webhook
from testing.servers import REST_HEADERS


class Tally:
    def __init__(self) -> None:
        self.status: Dict[str, Counter] = defaultdict(Counter)
        self.problems: Dict[str, Counter] = defaultdict(Counter)
        self.examples: Dict[str, List[str]] = defaultdict(list)
        self.lock = threading.Lock()

    def add(self, channel: str, status: str, problems: List[str], case: Case) -> None:
        with self.lock:
            self.status[channel][status] += 1
            for problem in problems:
                self.problems[channel][problem] += 1
                if len(self.examples[channel]) < 5:
                    self.examples[channel].append(f"{problem} ({status}, {case.kind}): {case.body[:160]!r}")

    def count(self, channel: Optional[str] = None) -> int:
        channels = [channel] if channel else list(self.status)
        return sum(sum(self.status[c].values()) for c in channels)

    def total_problems(self) -> int:
        return sum(sum(counter.values()) for counter in self.problems.values())

    def report(self) -> str:
        lines = []
        for channel in sorted(self.status):
            statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.status[channel].items()))
            problems = ", ".join(f"{p}: {n}" for p, n in sorted(self.problems[channel].items())) or "none"
            lines.append(f"{channel:10s} {sum(self.status[channel].values()):6d} sent | {statuses} | problems: {problems}")
            lines += [f"             e.g. {example}" for example in self.examples[channel]]
        totals = Counter()
        for counter in self.status.values():
            totals.update(counter)
        lines.append(f"{'all':10s} {self.count():6d} sent | " + ", ".join(f"{c}: {n}" for c, n in sorted(totals.items()))
                     + f" | problems: {self.total_problems()}")
        return "\n".join(lines)


CHANNELS = ("rest", "socketio", "telegram", "slack", "facebook", "twilio")
CASES: Dict[str, Callable[[], st.SearchStrategy]] = {
    "rest": rest_cases, "socketio": socketio_cases, "telegram": telegram_cases, "slack": slack_cases,
    "facebook": messenger_cases, "twilio": twilio_cases,
}


def fuzz_channel(channel: str, base_url: str, examples: int, tally: Tally,
                 progress: Optional[Callable[[str, int], None]] = None, seed: Optional[int] = None) -> None:
    """Send `examples` generated cases to one channel; outcomes go to the tally (never raises
    on a bad outcome: the caller asserts on the tally)."""
    session = requests.Session()
    sent = [0]

    def one(case_or_pair: Any) -> None:
        if channel == "socketio":
            data, case = case_or_pair
            status, problems = send_socketio(base_url, data, case)
        elif channel == "rest":
            case = case_or_pair
            status, problems = send_rest(base_url, case, session)
        else:
            case = case_or_pair
            status, problems = send_webhook(channel, base_url, case, session)
        tally.add(channel, status, problems, case)
        sent[0] += 1
        if progress:
            progress(channel, sent[0])

    run = settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
                   suppress_health_check=list(HealthCheck), derandomize=seed is None)(given(CASES[channel]())(one))
    if seed is not None:
        from hypothesis import seed as with_seed

        run = with_seed(seed)(run)
    run()


def answers_normally(base_url: str) -> Tuple[bool, str]:
    """After the fuzzing: a new patient saying hello gets the opening, on REST and socket.io."""
    sender = fresh_sender("after")
    response = requests.post(f"{base_url}/webhooks/rest/webhook", json={"sender": sender, "message": "hello"},
                             headers=REST_HEADERS, timeout=REQUEST_TIMEOUT)
    if response.status_code != 200:
        return False, f"REST answered {response.status_code}"
    replies = response.json()
    if not any((r.get("custom") or {}).get("ask") == "consent" for r in replies) or \
            "not a doctor" not in " ".join(r.get("text") or "" for r in replies):
        return False, f"REST opening missing: {replies!r:.300}"
    status, problems = send_socketio(base_url, {"message": "hello", "session_id": fresh_sender("after")},
                                     Case(b"hello", expect_valid=True))
    if status != "bot_uttered" or problems:
        return False, f"socket.io answered {status} {problems}"
    return True, "ok"
