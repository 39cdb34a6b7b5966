"""Login, logout, sessions with idle and absolute expiry, roles, and login throttling."""
from __future__ import annotations

import functools
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
# A clinic shares one address between several staff: allow more failures per address.
ADDRESS_FAILURE_FACTOR = 4


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


def _throttle_keys(email: str) -> list[tuple[str, int]]:
    limit = settings().login_max_failures
    return [(f"account:{email}", limit),
            (f"address:{request.remote_addr}", limit * ADDRESS_FAILURE_FACTOR)]


def _locked_out(email: str) -> bool:
    now = utcnow()
    keys = [key for key, _ in _throttle_keys(email)]
    rows = db().execute(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).scalars()
    return any(row.locked_until and row.locked_until > now for row in rows)


def _count_failure(email: str) -> None:
    now = utcnow()
    window = timedelta(minutes=settings().login_lockout_minutes)
    for key, limit in _throttle_keys(email):
        insert_ignore(db(), LoginThrottle,
                      [{"key": key, "failures": 0, "window_started_at": now}], ["key"])
        row = db().execute(select(LoginThrottle).where(LoginThrottle.key == key)
                           .with_for_update()).scalar_one()
        if now - row.window_started_at > window:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        if row.failures >= limit:
            row.locked_until = now + window


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("console/login.html", next=request.args.get("next", ""))
    email = request.form.get("email", "").strip().lower()[:320]
    password = request.form.get("password", "")
    target = _safe_next(request.form.get("next"))
    key = settings().secret_key
    if _locked_out(email):
        audit.record(db(), actor=email or "-", action="login_throttled", key=key,
                     address=request.remote_addr)
        db().commit()
        minutes = settings().login_lockout_minutes
        return render_template("console/login.html", next=target, error=(
            f"Too many failed sign-ins. Try again in {minutes} minutes.")), 429

    user = db().execute(select(StaffUser).where(StaffUser.email == email)).scalar_one_or_none()
    if not verify_password(user.password_hash if user else None, password) or not user.active:
        _count_failure(email)
        audit.record(db(), actor=email or "-", action="login_failed", key=key,
                     address=request.remote_addr,
                     reason="inactive" if user and not user.active else "bad credentials")
        db().commit()
        return render_template("console/login.html", next=target,
                               error="Wrong email or password."), 401

    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db().execute(delete(LoginThrottle).where(LoginThrottle.key == f"account:{email}"))
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
