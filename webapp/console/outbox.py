"""Console pages for the clinic's systems: the webhook's deliveries (what failed, what waits; an
admin puts failed ones back in line) and a conversation's FHIR export (admins; audited; redacted
unless asked)."""
from __future__ import annotations

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from storage import fhir_export
from storage.models import OUTBOX_STATUSES, OutboxMessage, utcnow
from storage.outbox import retry_failed
from webapp.console import bp, db, record_audit, settings
from webapp.console.auth import role_required
from webapp.console.views import conversation_id_from_form

SHOWN_ROWS = 300


def failed_count() -> int:
    return db().execute(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.status == "failed")).scalar_one()


@bp.app_context_processor
def deliveries_badge() -> dict:
    """The navigation shows how many deliveries failed, on every page a staff member sees."""
    if g.get("staff") is None:
        return {}
    return {"failed_deliveries": failed_count}


@bp.get("/deliveries")
def deliveries():
    status = request.args.get("status", "failed")
    if status not in OUTBOX_STATUSES:
        status = "failed"
    order = OutboxMessage.id.desc() if status == "delivered" else OutboxMessage.id
    rows = db().execute(select(OutboxMessage).where(OutboxMessage.status == status)
                        .order_by(order).limit(SHOWN_ROWS)).scalars().all()
    counts = dict(db().execute(select(OutboxMessage.status, func.count())
                               .group_by(OutboxMessage.status)).all())
    oldest_pending = db().execute(select(func.min(OutboxMessage.created_at))
                                  .where(OutboxMessage.status == "pending")).scalar()
    record_audit("view_deliveries", status=status, shown=len(rows))
    db().commit()
    return render_template("console/deliveries.html", rows=rows, status=status,
                           statuses=OUTBOX_STATUSES, counts=counts, oldest_pending=oldest_pending,
                           webhook_on=bool(settings().webhook_url), now=utcnow())


@bp.post("/deliveries/retry")
@role_required("admin")
def retry_deliveries():
    message_id = request.form.get("message_id")
    if message_id is not None and not message_id.isdigit():
        abort(400)
    count = retry_failed(db(), None if message_id is None else [int(message_id)])
    record_audit("outbox_retry", messages=count)
    db().commit()
    flash(f"{count} failed {'delivery' if count == 1 else 'deliveries'} put back in line.")
    return redirect(url_for("console.deliveries", status="failed"))


@bp.post("/export-fhir")
@role_required("admin")
def export_fhir():
    conversation_id = conversation_id_from_form()
    unredacted = request.form.get("unredacted") == "on"
    disclosure = fhir_export.FULL if unredacted else fhir_export.REDACTED
    bundle = fhir_export.export_conversation(db(), conversation_id, disclosure=disclosure,
                                             key=settings().secret_key)
    if bundle is None:
        abort(404)
    record_audit("export_fhir", conversation_id, redacted=not unredacted)
    db().commit()
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return Response(bundle.json(indent=2), mimetype="application/fhir+json", headers={
        "Content-Disposition": f'attachment; filename="triage-bundle-{stamp}.json"'})

