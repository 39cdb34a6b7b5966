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
"""
from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import select

from clinic.settings import Settings, get_settings, with_secret_key
from storage import audit, projector, retention
from storage.db import get_engine, session_factory
from storage.migrate import upgrade
from storage.models import ROLES, StaffUser, utcnow
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


if __name__ == "__main__":
    main()
