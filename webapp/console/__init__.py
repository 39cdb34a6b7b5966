"""Staff console: review what the bot told patients, most urgent first (server-rendered, no JS)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, current_app, g

from storage import audit
from storage.db import get_engine, session_factory

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


def record_audit(action: str, conversation_id: str | None = None, **details) -> None:
    """Audit an action of the logged-in staff member, in the request's transaction."""
    audit.record(db(), actor=g.staff.email, action=action, key=settings().secret_key,
                 conversation_id=conversation_id, **details)


def _close_db(_error=None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    from webapp.console import auth, exports, views  # noqa: F401  (routes register on bp)

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

    app.register_blueprint(bp)
