"""Storage commands: `python -m storage.cli COMMAND --help`.

  migrate                      apply the database migrations
  create-admin --email X       first admin (password from CLINIC_ADMIN_PASSWORD or a prompt)
  create-user --email X --role clinician|admin
  deactivate-user --email X
  project [--rebuild]          catch the console's summary up with Rasa's events
  purge [--days N]             erase conversations idle for more than N days (default from
                               settings), and the text of unconsented ones after
                               CLINIC_UNCONSENTED_RETENTION_HOURS, and failed sign-ins
                               older than CLINIC_LOGIN_WINDOW_MINUTES
  erase --conversation ID      erase one conversation on a patient's request
  export-fhir (--conversation ID ... | --all) [--unredacted] [--out FILE]
                               a FHIR R4 Bundle per conversation, one JSON per line (NDJSON);
                               redacted (pseudonym, no contact details) unless --unredacted
  outbox [--retry-failed]      the webhook outbox's counts; put failed messages back in line
"""
from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import func, select

from clinic.settings import Settings, get_settings, with_secret_key
from storage import audit, fhir_export, projector, retention
from storage.db import get_engine, session_factory
from storage.migrate import upgrade
from storage.models import ROLES, Conversation, OutboxMessage, StaffUser, utcnow
from storage.outbox import retry_failed
from storage.passwords import MIN_PASSWORD_LENGTH, hash_password

CLI_ACTOR = "cli:" + get_settings().user


def _read_password() -> str:
    password = get_settings().admin_password
    if password is None:
        if not sys.stdin.isatty():
            raise SystemExit("set CLINIC_ADMIN_PASSWORD or run in a terminal to be prompted")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise SystemExit("passwords differ")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SystemExit(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


def create_user(settings: Settings, email: str, role: str) -> None:
    email = email.strip().lower()
    engine = get_engine(settings.database_url)
    with session_factory(engine)() as session, session.begin():
        if session.execute(select(StaffUser.id).where(StaffUser.email == email)).first():
            raise SystemExit(f"a staff user {email} already exists")
        session.add(StaffUser(email=email, password_hash=hash_password(_read_password()),
                              role=role, active=True, created_at=utcnow(), session_epoch=0))
        audit.record(session, actor=CLI_ACTOR, action="create_user", key=settings.secret_key,
                     email=email, role=role)
    print(f"created {role} {email}")


def deactivate_user(settings: Settings, email: str) -> None:
    engine = get_engine(settings.database_url)
    with session_factory(engine)() as session, session.begin():
        user = session.execute(select(StaffUser).where(
            StaffUser.email == email.strip().lower())).scalar_one_or_none()
        if user is None:
            raise SystemExit(f"no staff user {email}")
        user.active = False
        user.session_epoch += 1
        audit.record(session, actor=CLI_ACTOR, action="deactivate_user",
                     key=settings.secret_key, email=user.email)
    print(f"deactivated {email}")


def export_fhir(settings: Settings, conversation_ids: list[str] | None, unredacted: bool,
                out) -> int:
    """Write one Bundle per conversation (all when conversation_ids is None); returns how many."""
    disclosure = fhir_export.FULL if unredacted else fhir_export.REDACTED
    engine = get_engine(settings.database_url)
    written = 0
    with session_factory(engine)() as session:
        with session.begin():
            audit.record(session, actor=CLI_ACTOR, action="export_fhir", key=settings.secret_key,
                         conversations="all" if conversation_ids is None else len(conversation_ids),
                         redacted=not unredacted)
        ids = conversation_ids if conversation_ids is not None else session.execute(
            select(Conversation.sender_id).order_by(Conversation.sender_id)).scalars().all()
        for sender_id in ids:
            bundle = fhir_export.export_conversation(session, sender_id, disclosure=disclosure,
                                                     key=settings.secret_key)
            if bundle is None:
                print(f"no conversation {sender_id!r}", file=sys.stderr)
                continue
            out.write(bundle.json() + "\n")
            written += 1
    return written


def outbox_counts(settings: Settings) -> dict[tuple[str, str], int]:
    engine = get_engine(settings.database_url)
    with session_factory(engine)() as session:
        rows = session.execute(select(OutboxMessage.kind, OutboxMessage.status,
                                      func.count()).group_by(OutboxMessage.kind,
                                                             OutboxMessage.status)).all()
    return {(kind, status): count for kind, status, count in rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m storage.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate")
    admin = commands.add_parser("create-admin")
    admin.add_argument("--email", required=True)
    user = commands.add_parser("create-user")
    user.add_argument("--email", required=True)
    user.add_argument("--role", choices=ROLES, default="clinician")
    deactivate = commands.add_parser("deactivate-user")
    deactivate.add_argument("--email", required=True)
    project = commands.add_parser("project")
    project.add_argument("--rebuild", action="store_true",
                         help="recompute every conversation, not only new events")
    purge = commands.add_parser("purge")
    purge.add_argument("--days", type=int, help="default: CLINIC_RETENTION_DAYS")
    erase = commands.add_parser("erase")
    erase.add_argument("--conversation", required=True, help="the Rasa sender id")
    fhir = commands.add_parser("export-fhir")
    which = fhir.add_mutually_exclusive_group(required=True)
    which.add_argument("--conversation", action="append", help="a Rasa sender id (repeatable)")
    which.add_argument("--all", action="store_true", help="every conversation")
    fhir.add_argument("--unredacted", action="store_true",
                      help="include the sender id and consented contact details (audited)")
    fhir.add_argument("--out", help="file to write (default: standard output)")
    outbox = commands.add_parser("outbox")
    outbox.add_argument("--retry-failed", action="store_true",
                        help="put every failed message back in line for delivery (audited)")
    args = parser.parse_args(argv)

    settings = with_secret_key(get_settings())
    engine = get_engine(settings.database_url)
    if args.command == "migrate":
        upgrade(settings.database_url)
        print("database is at the latest migration")
    elif args.command == "create-admin":
        create_user(settings, args.email, "admin")
    elif args.command == "create-user":
        create_user(settings, args.email, args.role)
    elif args.command == "deactivate-user":
        deactivate_user(settings, args.email)
    elif args.command == "project":
        read = projector.rebuild(engine) if args.rebuild else projector.catch_up(engine)
        print(f"projected {read} event rows")
    elif args.command == "purge":
        days = settings.retention_days if args.days is None else args.days
        if days < 1:
            raise SystemExit("--days must be at least 1")
        erased = retention.purge_expired(engine, days=days, actor=CLI_ACTOR,
                                         audit_key=settings.secret_key)
        stripped = retention.purge_unconsented_text(
            engine, hours=settings.unconsented_retention_hours, actor=CLI_ACTOR,
            audit_key=settings.secret_key)
        forgotten = retention.purge_failed_logins(engine, quiet_minutes=settings.login_window_minutes)
        print(f"erased {erased} conversation(s) idle for more than {days} days; deleted the text "
              f"of {stripped} unconsented conversation(s) older than "
              f"{settings.unconsented_retention_hours} hours; forgot {forgotten} old failed "
              f"sign-in record(s)")
    elif args.command == "erase":
        with session_factory(engine)() as session, session.begin():
            found = retention.erase_conversation(session, args.conversation, actor=CLI_ACTOR,
                                                 audit_key=settings.secret_key)
        print("erased" if found else "no such conversation (audited anyway)")
    elif args.command == "export-fhir":
        ids = None if args.all else args.conversation
        if args.out:
            with open(args.out, "w", encoding="utf-8") as out:
                written = export_fhir(settings, ids, args.unredacted, out)
            print(f"wrote {written} bundle(s) to {args.out}", file=sys.stderr)
        else:
            export_fhir(settings, ids, args.unredacted, sys.stdout)
    elif args.command == "outbox":
        if args.retry_failed:
            with session_factory(engine)() as session, session.begin():
                count = retry_failed(session)
                audit.record(session, actor=CLI_ACTOR, action="outbox_retry",
                             key=settings.secret_key, messages=count)
            print(f"{count} failed message(s) put back in line")
        for (kind, status), count in sorted(outbox_counts(settings).items()):
            print(f"{kind:18} {status:10} {count}")


if __name__ == "__main__":
    main()
