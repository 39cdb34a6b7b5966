"""Console pages: the conversation list, one conversation, reviews, reveal, erasure, handoffs."""
from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import case, select

from storage import audit, projector
from storage.models import (
    HANDOFF_STATUSES,
    LEVEL_RANKS,
    REVIEW_STATUSES,
    AuditEntry,
    Conversation,
    FollowUp,
    HandoffRequest,
    Review,
    TriageOutcome,
    utcnow,
)
from storage.redaction import redact
from storage.retention import erase_conversation
from storage.transcript import Transcript
from webapp.console import (
    bp,
    check_ins,
    conversation_token,
    db,
    form_max_age_seconds,
    link_max_age_seconds,
    links,
    listing,
    record_audit,
    sender_from_token,
    settings,
)
from webapp.console.auth import role_required
from webapp.console.listing import LEVEL_CHOICES, ListFilters, conversation_page, filter_options


def zone() -> ZoneInfo:
    return ZoneInfo(settings().clinic_timezone)


def conversation_id_from_form() -> str:
    token = request.form.get("conversation_id", "")
    if not token:
        abort(400)
    try:
        return sender_from_token(token, max_age_seconds=form_max_age_seconds())
    except links.LinkExpired:
        abort(410, EXPIRED_PAGE)


EXPIRED_LINK = "This link has expired. Open the conversation again from the list."
EXPIRED_PAGE = "This page is too old. Open the conversation again from the list."
EXPIRED_CURSOR = "That page of the list has expired: here is the first page."
SEARCH_NOT_IN_LINKS = "Searches are not kept in links (they could name a patient): search again."


def _list_cursor() -> tuple[str, tuple, str | None] | None:
    """("after" or "before", key, search) from the encrypted cursor in the URL, if any."""
    for direction in ("after", "before"):
        token = request.args.get(direction)
        if not token:
            continue
        try:
            found = listing.cursor_from_text(links.unseal(
                token, links.LIST_CURSOR, settings().secret_key, link_max_age_seconds()))
        except links.LinkExpired:
            found = None
        if found is None:
            flash(EXPIRED_CURSOR)
            return None
        return direction, *found
    return None


def list_cursor(key: tuple, search: str | None) -> str:
    return links.seal(listing.cursor_text(key, search), links.LIST_CURSOR, settings().secret_key)


@bp.route("/", methods=["GET", "POST"])
def conversations():
    """GET: filters in the URL, search words only inside an encrypted cursor. POST: the filter
    form, which carries the search words (CSRF-checked); without them it redirects to GET."""
    cursor = None
    if request.method == "POST":
        filters = ListFilters.from_args(request.form)
        if not filters.q:
            return redirect(url_for("console.conversations", **filters.link_args()), 303)
    else:
        if request.args.get("q"):
            flash(SEARCH_NOT_IN_LINKS)
        cursor = _list_cursor()
        filters = ListFilters.from_args({**request.args, "q": ""},
                                        search=cursor[2] if cursor else None)
    after = cursor[1] if cursor and cursor[0] == "after" else None
    before = cursor[1] if cursor and cursor[0] == "before" else None
    page = conversation_page(db(), filters, zone(), after=after, before=before)
    options = filter_options(db(), current_app.config.get("CONSOLE_OPTIONS_TTL", 60))
    record_audit("list", **filters.audit_details())
    db().commit()
    return render_template("console/list.html", page=page, filters=filters,
                           levels=LEVEL_CHOICES, statuses=REVIEW_STATUSES, options=options,
                           redact=redact, list_cursor=list_cursor)


@dataclass
class ConversationView:
    conversation: Conversation
    transcript: Transcript
    outcomes: list[TriageOutcome]
    handoffs: list[HandoffRequest]
    reviews: list[Review]
    check_ins: list[FollowUp]


def load_conversation(conversation_id: str) -> ConversationView:
    """Everything shown about a conversation: its summary (kept current by the projector worker)
    and the transcript, read from the events."""
    session = db()
    transcript = projector.load_transcripts(session, [conversation_id])[conversation_id]
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        abort(404)

    def rows(model, order):
        return session.execute(select(model).where(model.conversation_id == conversation_id)
                               .order_by(order)).scalars().all()

    return ConversationView(conversation, transcript,
                            rows(TriageOutcome, TriageOutcome.created_at),
                            rows(HandoffRequest, HandoffRequest.created_at),
                            rows(Review, Review.created_at.desc()),
                            rows(FollowUp, FollowUp.created_at))


def render_conversation(conversation_id: str, *, revealed: bool):
    view = load_conversation(conversation_id)
    record_audit("reveal" if revealed else "view", conversation_id)
    db().commit()
    shown = (lambda text: text) if revealed else redact
    return render_template("console/conversation.html", view=view, revealed=revealed,
                           shown=shown, review_statuses=REVIEW_STATUSES, check_in_how=check_ins.how)


@bp.get("/conversations/<path:token>")
def conversation(token: str):
    """The console's links carry an encrypted reference; a typed sender id works too."""
    try:
        sender_id = sender_from_token(token, max_age_seconds=link_max_age_seconds())
    except links.LinkExpired:
        abort(410, EXPIRED_LINK)
    return render_conversation(sender_id, revealed=False)


@bp.post("/reveal")
@role_required("admin")
def reveal():
    return render_conversation(conversation_id_from_form(), revealed=True)


@bp.post("/review")
def review():
    conversation_id = conversation_id_from_form()
    summary = db().get(Conversation, conversation_id, with_for_update=True)
    if summary is None:
        abort(404)
    follow_up = request.form.get("follow_up") == "on"
    status = "follow_up" if follow_up else request.form.get("status", "reviewed")
    if status not in REVIEW_STATUSES:
        abort(400)
    note = request.form.get("note", "").strip()[:4000] or None
    db().add(Review(conversation_id=conversation_id, status=status, reviewer=g.staff.email,
                    note=note, follow_up=follow_up, created_at=utcnow()))
    summary.review_status = status
    record_audit("review", conversation_id, status=status, note=note is not None)
    db().commit()
    flash({"reviewed": "Marked reviewed.", "follow_up": "Flagged for clinical follow-up.",
           "new": "Marked as not reviewed."}[status])
    return redirect(url_for("console.conversation", token=conversation_token(conversation_id)))


@bp.post("/erase")
@role_required("admin")
def erase():
    conversation_id = conversation_id_from_form()
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm the patient asked for erasure.")
        return redirect(url_for("console.conversation", token=conversation_token(conversation_id)))
    erase_conversation(db(), conversation_id, actor=g.staff.email,
                       audit_key=settings().secret_key)
    db().commit()
    flash("The conversation was erased. The audit log keeps only that it happened.")
    return redirect(url_for("console.conversations"))


@bp.get("/handoffs")
def handoffs():
    status = request.args.get("status", "open")
    if status not in HANDOFF_STATUSES:
        status = "open"
    urgency = case(LEVEL_RANKS, value=HandoffRequest.level, else_=0)
    rows = db().execute(select(HandoffRequest).where(HandoffRequest.status == status)
                        .order_by(urgency.desc(), HandoffRequest.created_at).limit(500)
                        ).scalars().all()
    record_audit("view_handoffs", status=status, shown=len(rows))
    db().commit()
    return render_template("console/handoffs.html", rows=rows, status=status,
                           statuses=HANDOFF_STATUSES)


@bp.post("/handoffs/<int:handoff_id>/status")
def handoff_status(handoff_id: int):
    status = request.form.get("status")
    if status not in HANDOFF_STATUSES:
        abort(400)
    handoff = db().get(HandoffRequest, handoff_id, with_for_update=True)
    if handoff is None:
        abort(404)
    handoff.status, handoff.updated_at, handoff.updated_by = status, utcnow(), g.staff.email
    record_audit("handoff_status", handoff.conversation_id, handoff=handoff_id, status=status)
    db().commit()
    flash(f"Callback request marked {status}.")
    return redirect(url_for("console.handoffs", status=request.form.get("back", "open")))


@bp.route("/audit", methods=["GET", "POST"])
@role_required("admin")
def audit_log():
    """One conversation's entries: GET with the encrypted reference the conversation page links
    to, or POST with a typed sender id (so no id is ever in the URL)."""
    conversation_id, error = None, None
    if request.method == "POST":
        conversation_id = request.form.get("conversation_id", "").strip()[:400] or None
    elif request.args.get("conversation"):
        try:
            conversation_id = links.unseal(request.args["conversation"], links.CONVERSATION,
                                           settings().secret_key, link_max_age_seconds())
        except links.LinkExpired:
            error = EXPIRED_LINK
        else:
            error = None if conversation_id else (
                "That is not a conversation reference. Type the conversation id in the form.")
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(300)
    if conversation_id:
        query = query.where(AuditEntry.target_ref == audit.conversation_ref(
            conversation_id, settings().secret_key))
    entries = [] if error else db().execute(query).scalars().all()
    record_audit("view_audit", conversation_id)  # after the read: it lists itself next time
    db().commit()
    return render_template("console/audit.html", entries=entries, error=error,
                           filtered=conversation_id is not None), 400 if error else 200


@bp.errorhandler(400)
@bp.errorhandler(401)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(410)
@bp.errorhandler(413)
@bp.errorhandler(429)
def error_page(error):
    return render_template("console/error.html", error=error), error.code
