"""Console list and filter page times at 100,000 conversations on PostgreSQL.

    .venv/bin/python benchmarks/console_list.py [--conversations 100000] [--repeat 30] [--keep]

Loads synthetic conversations (Rasa event rows, their summary rows and triage outcomes, built by
the same code the projector uses) into a fresh database with COPY, then times list pages through
the Flask test client (login, query, audit entry, rendering): p50/p95 per page.
Drops the database at the end unless --keep.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy.dialects.postgresql.psycopg2  # noqa: E402,F401
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from clinic.settings import get_settings  # noqa: E402
from storage import projector  # noqa: E402
from storage.db import get_engine, session_factory  # noqa: E402
from storage.models import Conversation, StaffUser, utcnow  # noqa: E402
from storage.passwords import hash_password  # noqa: E402
from storage.transcript import build_transcript  # noqa: E402
from testing import synthetic  # noqa: E402
from testing.console import csrf_token_in, log_in_test_client  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.console import links  # noqa: E402
from webapp.console.listing import ListFilters, cursor_from_text, cursor_key, cursor_text, page_query  # noqa: E402

SLOW_MS = 100
CHUNK = 5_000
PASSWORD = "benchmark-password-1234"
CHANNELS = [("socketio", 0.55), ("rest", 0.15), ("telegram", 0.12), ("whatsapp", 0.10),
            ("facebook", 0.08)]
LEVELS = [("emergency", 0.03), ("urgent", 0.10), ("routine", 0.37), ("self_care", 0.50)]
RED_FLAGS = {
    "emergency": [["cauda_equina"], ["cauda_equina", "urinary_retention"], ["suspected_dvt"],
                  ["compartment_syndrome"]],
    "urgent": [["progressive_weakness"], ["night_pain_weight_loss"], ["suspected_achilles_rupture"],
               []],
    "routine": [[]], "self_care": [[]],
}
OPENERS = ["my lower back hurts when I bend", "sharp pain down my left leg",
           "my calves cramp at night", "tingling in my foot since last week",
           "numbness in my right thigh", "I pulled my calf playing football",
           "back pain after lifting boxes at work", "stiff back every morning",
           "my calf is swollen and warm", "shooting pain in my buttock",
           "I'm Sarah and my back is agony", "pain behind my knee when walking",
           "my achilles felt like a kick", "sciatica flare up again", "can't sleep for back pain"]
EXTRAS = ["it gets worse sitting", "paracetamol does not help", "I work at a desk",
          "it started after running", "no fever", "call me on 07700 900123", "about two weeks",
          "I'm 52", "worse on stairs", ""]


def pick(rng: random.Random, weighted):
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def synthetic_conversation(rng: random.Random, t0: float) -> tuple[list[dict], str]:
    level = pick(rng, LEVELS)
    flags = rng.choice(RED_FLAGS[level])
    channel = pick(rng, CHANNELS)
    opener = f"{rng.choice(OPENERS)} {rng.choice(EXTRAS)}".strip()
    events = [
        synthetic.session_started(t0), synthetic.action(t0, "action_session_start"),
        synthetic.action(t0, "action_listen"),
        synthetic.slot(t0 + 1, "consent", rng.random() < 0.85),
        synthetic.user(t0 + 5, opener, entities=[synthetic.finding("back_pain")],
                       channel=channel),
        synthetic.bot(t0 + 6, "Have you noticed numbness around your bottom or genitals?",
                      buttons=[("Yes", "/affirm"), ("No", "/deny")]),
        synthetic.user(t0 + 12, "/affirm" if flags else "/deny", "affirm" if flags else "deny",
                       channel=channel),
        synthetic.bot(t0 + 13, "Here is what to do next.", custom=synthetic.triage(
            level, red_flags=flags, rules=[f"{(flags or ['no_red_flags'])[0]}.rule"],
            plan=["gastrocnemius_stretch"] if level == "self_care" else [],
            reason="Synthetic outcome.", sources=["NICE CKS Sciatica"])),
        synthetic.action(t0 + 13, "action_listen"),
    ]
    return events, channel


class CopyWriter:
    """Rows to CSV, then COPY ... FROM STDIN."""

    def __init__(self, table: str, columns: list[str]):
        self.table, self.columns = table, columns
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)

    def add(self, values: list) -> None:
        self.writer.writerow(["\\N" if v is None else v for v in values])

    def flush(self, cursor) -> None:
        self.buffer.seek(0)
        cursor.copy_expert(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN "
                           "WITH (FORMAT csv, NULL '\\N')", self.buffer)
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def load(engine, count: int, rng: random.Random) -> None:
    now = time.time()
    events = CopyWriter("events", ["sender_id", "type_name", "timestamp", "intent_name",
                                   "action_name", "data"])
    conversations = CopyWriter("conversations", [
        "sender_id", "channel", "started_at", "last_activity_at", "consent", "consent_at",
        "max_level", "urgency_rank", "red_flags", "latest_outcome_id", "review_status",
        "preview", "search_text", "updated_at"])
    outcome_columns = ["id", "conversation_id", "event_key", "level", "urgency_rank", "red_flags",
                       "rules", "protocol_version", "plan", "reason", "sources", "findings",
                       "channel", "created_at", "source", "recorded_at"]
    outcomes = CopyWriter("triage_outcomes", outcome_columns)
    json_columns = {"red_flags", "rules", "plan", "sources", "findings"}
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        outcome_id = 0
        for i in range(count):
            sender_id = f"bench-{i:07d}"
            t0 = now - rng.random() * 365 * 86_400
            conversation_events, channel = synthetic_conversation(rng, t0)
            for event in conversation_events:
                row = synthetic.event_row(sender_id, event)
                events.add([row[c] for c in events.columns])
            transcript = build_transcript(
                (e["event"], e["timestamp"], e) for e in conversation_events)
            rows = projector.reconciled_outcomes(sender_id, transcript)
            for row in rows:
                outcome_id += 1
                row["id"] = outcome_id
                outcomes.add([json.dumps(row[c]) if c in json_columns else
                              iso(row[c]) if isinstance(row[c], datetime) else row[c]
                              for c in outcome_columns])
            worst = max(rows, key=lambda r: r["urgency_rank"])
            conversations.add([
                sender_id, channel, iso(transcript.started_at), iso(transcript.last_activity_at),
                transcript.consent, iso(transcript.consent_at), worst["level"],
                worst["urgency_rank"], json.dumps(sorted(worst["red_flags"])), outcome_id,
                rng.choices(["new", "reviewed", "follow_up"], [0.6, 0.35, 0.05])[0],
                transcript.preview(), transcript.search_text(), iso(utcnow())])
            if (i + 1) % CHUNK == 0 or i + 1 == count:
                # Parents before children: outcomes reference conversations.
                for writer in (events, conversations, outcomes):
                    writer.flush(cursor)
                raw.commit()
                elapsed = time.perf_counter() - started
                print(f"\r  loaded {i + 1:>9,}/{count:,} conversations  ({elapsed:5.1f} s)",
                      end="", flush=True)
        print()
        cursor.execute("SELECT setval('triage_outcomes_id_seq', %s)", (outcome_id,))
        cursor.execute("INSERT INTO projector_state (name, last_event_id) "
                       "SELECT %s, max(id) FROM events", (projector.STATE_NAME,))
        raw.commit()
        raw.connection.autocommit = True      # VACUUM refuses to run in a transaction
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")      # so the load's writes do not stall the timings
        raw.connection.autocommit = False
    finally:
        raw.close()


def measure_projector(engine, rng: random.Random, count: int = 1_000) -> None:
    """Catch-up speed for new events (what runs in the background of a busy clinic)."""
    with engine.begin() as connection:
        for i in range(count):
            conversation_events, _ = synthetic_conversation(rng, time.time() - rng.random() * 3600)
            synthetic.insert_events(connection, f"late-{i:05d}", conversation_events)
    started = time.perf_counter()
    read = projector.catch_up(engine)
    elapsed = time.perf_counter() - started
    print(f"  projector: {read:,} new event rows ({count:,} conversations) in {elapsed:.2f} s"
          f" = {read / elapsed:,.0f} events/s")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def list_query(args: dict, zone: ZoneInfo, secret_key: str):
    """The list page's query for these filters."""
    after = args.get("after") and cursor_from_text(
        links.unseal(args["after"], links.LIST_CURSOR, secret_key))[0]
    return page_query(ListFilters.from_args(args), zone, True, after=after, before=None, limit=50)


def sql_p50(engine, query, repeat: int) -> float:
    samples = []
    with engine.connect() as connection:
        for _ in range(repeat):
            begun = time.perf_counter()
            connection.execute(query).all()
            samples.append((time.perf_counter() - begun) * 1000)
    return percentile(samples, 0.5)


def explain(engine, query) -> list[str]:
    compiled = query.compile(dialect=postgresql.psycopg2.dialect())
    with engine.connect() as connection:
        result = connection.exec_driver_sql("EXPLAIN ANALYZE " + compiled.string, compiled.params)
        return [row[0] for row in result]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with synthetic.temporary_database("clinic_bench", keep=args.keep) as url:
        engine = get_engine(url)
        print(f"Loading {args.conversations:,} synthetic conversations into a fresh database")
        started = time.perf_counter()
        load(engine, args.conversations, rng)
        with engine.connect() as connection:
            events = connection.execute(text("SELECT count(*) FROM events")).scalar()
            outcomes = connection.execute(text("SELECT count(*) FROM triage_outcomes")).scalar()
        print(f"  {events:,} event rows, {outcomes:,} triage outcomes in "
              f"{time.perf_counter() - started:.1f} s")
        measure_projector(engine, rng)

        settings = get_settings().copy(update=dict(database_url=url,
                                                   secret_key="benchmark-secret"))
        zone = ZoneInfo(settings.clinic_timezone)
        with session_factory(engine)() as session, session.begin():
            session.add(StaffUser(email="bench@clinic.example", password_hash=hash_password(
                PASSWORD), role="clinician", active=True, created_at=utcnow(), session_epoch=0))
            middle = session.execute(select(Conversation).order_by(
                Conversation.urgency_rank.desc(), Conversation.last_activity_at.desc(),
                Conversation.sender_id.desc()).offset(args.conversations // 2).limit(1)
            ).scalar_one()
            total = session.execute(select(func.count()).select_from(Conversation)).scalar()
        app = create_app(settings)
        client = app.test_client()
        log_in_test_client(client, "bench@clinic.example", PASSWORD)

        today = datetime.now(timezone.utc).date()
        half_year_ago = (today - timedelta(days=180)).isoformat()
        week_later = (today - timedelta(days=173)).isoformat()
        pages = {
            "first page": {},
            f"deep page (row {args.conversations // 2:,})": {"after": links.seal(
                cursor_text(cursor_key(middle), None), links.LIST_CURSOR, settings.secret_key)},
            "level=emergency": {"level": "emergency"},
            "level=routine": {"level": "routine"},
            "red_flag=cauda_equina": {"red_flag": "cauda_equina"},
            "red_flag=suspected_achilles_rupture": {"red_flag": "suspected_achilles_rupture"},
            "red_flag matching nothing (worst case)": {"red_flag": "not_a_flag"},
            "status=follow_up": {"status": "follow_up"},
            "channel=telegram": {"channel": "telegram"},
            "date range (1 week, 6 months ago)": {"date_from": half_year_ago, "date_to": week_later},
            "date range + level=urgent": {"date_from": half_year_ago, "date_to": week_later,
                                          "level": "urgent"},
            "level=urgent status=new channel=rest": {"level": "urgent", "status": "new",
                                                     "channel": "rest"},
            "search 'numbness'": {"q": "numbness"},
            "search 'tingling foot'": {"q": "tingling foot"},
            "search 'achilles kick' + level=self_care": {"q": "achilles kick",
                                                         "level": "self_care"},
        }
        print(f"\nList page times over {total:,} conversations, {args.repeat} requests each "
              f"(Flask test client, full request):")
        print(f"  {'page':<44}{'rows':>6}{'p50 ms':>10}{'p95 ms':>10}{'SQL p50 ms':>12}")
        slow = []
        csrf_token = csrf_token_in(client.get("/staff/").get_data(as_text=True))

        def list_page(query: dict):
            """A search is posted (its words never go in a URL); other filters are a GET."""
            if "q" in query:
                return client.post("/staff/", data={**query, "csrf_token": csrf_token})
            return client.get("/staff/", query_string=query)

        for name, query in pages.items():
            response = list_page(query)        # warm-up
            assert response.status_code == 200, (name, response.status_code)
            rows = response.get_data(as_text=True).count('class="open"')
            samples = []
            for _ in range(args.repeat):
                begun = time.perf_counter()
                list_page(query)
                samples.append((time.perf_counter() - begun) * 1000)
            p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
            sql = list_query(query, zone, settings.secret_key)
            print(f"  {name:<44}{rows:>6}{p50:>10.1f}{p95:>10.1f}"
                  f"{sql_p50(engine, sql, args.repeat):>12.1f}")
            if p95 > SLOW_MS:
                slow.append((name, sql))
        for name, sql in slow:
            print(f"\nEXPLAIN ANALYZE for '{name}' (p95 over {SLOW_MS} ms):")
            for line in explain(engine, sql):
                print("  " + line)
        if not slow:
            print(f"\nEvery page's p95 is under {SLOW_MS} ms.")
        if args.keep:
            print(f"\nKept the database: {url}")


if __name__ == "__main__":
    main()
