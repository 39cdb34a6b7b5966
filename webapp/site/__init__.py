"""The clinic's demo page with the patients' chat widget, served at `/`.

The widget (static/widget.js) is configured through data- attributes only, so the page
runs under a CSP without inline scripts or styles.
"""
from __future__ import annotations

import re

from flask import Blueprint, current_app, render_template

from clinic.settings import get_settings

# Message the widget sends (not shown) to start a new conversation.
INIT_PAYLOAD = "/greet"

bp = Blueprint(
    "site",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)


@bp.get("/")
def index():
    # create_app() keeps its settings here; otherwise read the environment now.
    settings = current_app.extensions.get("clinic_settings") or get_settings()
    name = settings.clinic_name
    return render_template(
        "site/index.html",
        settings=settings,
        clinic_display_name=name[:1].upper() + name[1:],
        init_payload=INIT_PAYLOAD,
        tel_href=tel_href,
    )


def tel_href(number: str) -> str:
    """A tap-to-call link target: `tel:` and the number's digits (and a leading +)."""
    return "tel:" + re.sub(r"[^\d+]", "", number)
