"""Login, logout, sessions with idle and absolute expiry, roles, and the sign-in back-off."""
from __future__ import annotations

import functools
import math
import time
from datetime import timedelta

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import delete, select

from storage import audit
from storage.conversations import insert_ignore
from storage.models import LoginThrottle, StaffUser, utcnow
from storage.passwords import hash_password, needs_rehash, verify_password
from webapp.console import URL_PREFIX, bp, db, settings

OPEN_ENDPOINTS = {"console.login", "console.static"}
# The first wait of the sign-in back-off; each further failure doubles it.
BACKOFF_FIRST_SECONDS = 1


def require_login():
    """Runs before every request: nothing under /staff/ without a valid staff session."""
    if request.blueprint != "console" or request.endpoint in OPEN_ENDPOINTS:
        return None
    g.staff = current_staff()
    if g.staff is not None:
        return None
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    abort(401)


def current_staff() -> StaffUser | None:
    if "uid" not in session:
        return None
    now = time.time()
    config = settings()
    expired = (now - session.get("seen", 0) > config.staff_idle_minutes * 60
               or now - session.get("login_at", 0) > config.staff_max_session_hours * 3600)
    user = None if expired else db().get(StaffUser, session["uid"])
    if user is None or not user.active or user.session_epoch != session.get("epoch"):
        session.clear()
        if expired:
            flash("Your session expired. Please sign in again.")
        return None
    session["seen"] = now
    return user


def role_required(role: str):
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if g.staff.role != role:
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def _safe_next(target: str | None) -> str:
    """Only ever redirect back into the console after login."""
    if target and target.startswith(URL_PREFIX + "/") and not target.startswith("//") \
            and "\\" not in target:
        return target
    return url_for("console.conversations")


def _account_key(email: str) -> str:
    """The throttle row of whatever was typed as an email (keyed hash: it may be a password)."""
    return "account:" + audit.typed_ref(email, settings().secret_key)


def _address_key() -> str:
    return f"address:{request.remote_addr}"


def _wait_seconds(keys: list[str]) -> int:
    """How long the back-off of these keys still asks a sign-in attempt to wait."""
    now = utcnow()
    rows = db().execute(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).scalars()
    waits = [(row.locked_until - now).total_seconds() for row in rows if row.locked_until]
    return math.ceil(max(waits, default=0))


def _count_failure(key: str, free_failures: int) -> None:
    """One more failure for this key. Past `free_failures` within the window, each attempt must
    wait twice as long as the last (up to login_backoff_max_seconds): slowed, never locked out.
    The window restarts at each failure, so failures are forgotten after a quiet window."""
    config, now = settings(), utcnow()
    insert_ignore(db(), LoginThrottle, [{"key": key, "failures": 0, "window_started_at": now}],
                  ["key"])
    row = db().execute(select(LoginThrottle).where(LoginThrottle.key == key)
                       .with_for_update()).scalar_one()
    if now - row.window_started_at > timedelta(minutes=config.login_window_minutes):
        row.failures = 0
    row.failures += 1
    row.window_started_at = now
    if row.failures >= free_failures:
        delay = min(config.login_backoff_max_seconds,
                    BACKOFF_FIRST_SECONDS * 2 ** min(row.failures - free_failures, 30))
        row.locked_until = now + timedelta(seconds=delay)


def _attempt_failed(email: str, user: StaffUser | None) -> None:
    config = settings()
    _count_failure(_account_key(email), config.login_max_failures)
    if user is None:   # guessing names: the address is slowed too (every attempt from it)
        _count_failure(_address_key(), config.login_address_max_unknown)


def _signing_in_as(email: str, user: StaffUser | None) -> str:
    """The audit log's actor for a sign-in attempt: an account's email, else a keyed hash of
    what was typed (never the text itself)."""
    return user.email if user else audit.typed_ref(email, settings().secret_key)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("console/login.html", next=request.args.get("next", ""))
    email = request.form.get("email", "").strip().lower()[:320]
    password = request.form.get("password", "")
    target = _safe_next(request.form.get("next"))
    key = settings().secret_key
    user = db().execute(select(StaffUser).where(StaffUser.email == email)).scalar_one_or_none()
    wait = _wait_seconds([_account_key(email), _address_key()])
    if wait > 0:
        audit.record(db(), actor=_signing_in_as(email, user), action="login_throttled", key=key,
                     address=request.remote_addr, wait_seconds=wait)
        db().commit()
        return render_template("console/login.html", next=target, error=(
            f"Too many failed sign-ins. Wait {wait} second{'s' if wait > 1 else ''}, "
            "then try again.")), 429, \
            {"Retry-After": str(wait)}

    if not verify_password(user.password_hash if user else None, password) or not user.active:
        _attempt_failed(email, user)
        audit.record(db(), actor=_signing_in_as(email, user), action="login_failed", key=key,
                     address=request.remote_addr,
                     reason="inactive" if user and not user.active else "bad credentials")
        db().commit()
        return render_template("console/login.html", next=target,
                               error="Wrong email or password."), 401

    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db().execute(delete(LoginThrottle).where(LoginThrottle.key == _account_key(email)))
    audit.record(db(), actor=user.email, action="login", key=key, address=request.remote_addr)
    db().commit()
    session.clear()         # no session fixation: a fresh cookie at every login
    session.permanent = True
    now = time.time()
    session.update(uid=user.id, epoch=user.session_epoch, login_at=now, seen=now)
    return redirect(target)


@bp.route("/logout", methods=["POST"])
def logout():
    # Ends every session of this user (a copied cookie stops working too).
    g.staff.session_epoch += 1
    audit.record(db(), actor=g.staff.email, action="logout", key=settings().secret_key)
    db().commit()
    session.clear()
    flash("Signed out.")
    return redirect(url_for("console.login"))
