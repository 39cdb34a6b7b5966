"""Staff console: review what the bot told patients, most urgent first (server-rendered, no JS)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, current_app, g

from storage import audit
from storage.db import get_engine, session_factory
from webapp.console import links

URL_PREFIX = "/staff"

bp = Blueprint("console", __name__, url_prefix=URL_PREFIX, template_folder="templates",
               static_folder="static")


def settings():
    return current_app.extensions["clinic_settings"]


def db():
    """The request's database session (closed when the request ends)."""
    if "db" not in g:
        g.db = current_app.extensions["clinic_sessions"]()
    return g.db


def engine():
    return current_app.extensions["clinic_engine"]


def link_max_age_seconds() -> int:
    return settings().console_link_minutes * 60


def form_max_age_seconds() -> int:
    """Forms on a page from the current session always work (a session lasts
    staff_max_session_hours at most), whatever the links' expiry."""
    config = settings()
    return max(config.console_link_minutes * 60, config.staff_max_session_hours * 3600)


def conversation_token(sender_id: str, secret_key: str | None = None) -> str:
    """How links and forms name a conversation: encrypted, so no phone number or chat id is in a
    URL, the browser's history or the proxy's access log."""
    return links.seal(sender_id, links.CONVERSATION, secret_key or settings().secret_key)


def sender_from_token(value: str, secret_key: str | None = None,
                      max_age_seconds: int | None = None) -> str:
    """The sender id behind a token; a value that is not one is taken as a typed sender id.
    Raises links.LinkExpired for a token older than max_age_seconds."""
    sender_id = links.unseal(value, links.CONVERSATION, secret_key or settings().secret_key,
                             max_age_seconds)
    return value if sender_id is None else sender_id


def conversation_label(sender_id: str) -> str:
    """The conversation's pseudonym (storage.audit.conversation_label)."""
    return audit.conversation_label(sender_id, settings().secret_key)


def record_audit(action: str, conversation_id: str | None = None, **details) -> None:
    """Audit an action of the logged-in staff member, in the request's transaction."""
    audit.record(db(), actor=g.staff.email, action=action, key=settings().secret_key,
                 conversation_id=conversation_id, **details)


def _close_db(_error=None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    from webapp.console import auth, check_ins, exports, outbox, views  # noqa: F401  (routes register on bp)

    engine = get_engine(app.extensions["clinic_settings"].database_url)
    app.extensions["clinic_engine"] = engine
    app.extensions["clinic_sessions"] = session_factory(engine)
    app.teardown_appcontext(_close_db)
    app.before_request(auth.require_login)
    zone = ZoneInfo(app.extensions["clinic_settings"].clinic_timezone)

    @app.template_filter("local")
    def local_time(value: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
        return value.astimezone(zone).strftime(fmt) if value else ""

    @app.template_filter("label")
    def label(value: str | None) -> str:
        return (value or "").replace("_", " ")

    app.add_template_global(conversation_token)
    app.add_template_global(conversation_label)

    app.register_blueprint(bp)
