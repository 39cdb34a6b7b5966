"""Check-ins patients asked for (storage/followups.py): scheduled, sent, failed or cancelled, most
pressing first. The number is masked: staff need not call it (the sender texts it), only tell two
apart. Any staff member may cancel a scheduled check-in (the patient asked, or it is no longer right)."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from knowledge.follow_up import wait_words
from knowledge.model import knowledge
from storage.followups import cancel, masked
from storage.models import FOLLOW_UP_STATUSES, FollowUp, utcnow
from webapp.console import bp, db, record_audit

CHANNEL_NAMES = {"telegram": "Telegram", "slack": "Slack", "twilio": "text message"}


def how(follow_up: FollowUp) -> str:
    """How the check-in reaches the patient, without the number in full."""
    if follow_up.contact_method == "sms":
        return f"text to {masked(follow_up.contact_value)}" if follow_up.contact_value else "text message"
    return f"in their {CHANNEL_NAMES.get(follow_up.channel or '', follow_up.channel or 'chat')} chat"


def about(follow_up: FollowUp) -> str:
    presentation = knowledge().presentations.get(follow_up.presentation)
    return presentation.name if presentation else follow_up.presentation


@bp.get("/check-ins")
def check_ins():
    status = request.args.get("status", "scheduled")
    if status not in FOLLOW_UP_STATUSES:
        status = "scheduled"
    order = FollowUp.due_at if status == "scheduled" else FollowUp.updated_at.desc()
    rows = db().execute(select(FollowUp).where(FollowUp.status == status).order_by(order, FollowUp.id)
                        .limit(500)).scalars().all()
    record_audit("view_check_ins", status=status, shown=len(rows))
    db().commit()
    return render_template("console/check_ins.html", rows=rows, status=status, statuses=FOLLOW_UP_STATUSES,
                           how=how, about=about, wait_words=wait_words)


@bp.post("/check-ins/<int:follow_up_id>/cancel")
def check_in_cancel(follow_up_id: int):
    follow_up = db().get(FollowUp, follow_up_id, with_for_update=True)
    if follow_up is None:
        abort(404)
    cancelled = cancel(follow_up, g.staff.email, utcnow())
    record_audit("check_in_cancel", follow_up.conversation_id, check_in=follow_up_id, cancelled=cancelled)
    db().commit()
    flash("Check-in cancelled; its number is deleted." if cancelled else "That check-in was no longer scheduled.")
    return redirect(url_for("console.check_ins", status=request.form.get("back", "scheduled")))
