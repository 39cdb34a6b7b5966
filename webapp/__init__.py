"""The clinic's web app: the public page at `/` and the staff console at `/staff/`."""
from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from clinic.settings import Settings, get_settings, with_secret_key

log = logging.getLogger(__name__)
csrf = CSRFProtect()


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    app = Flask(__name__)
    if not settings.secret_key:
        log.warning("CLINIC_SECRET_KEY is not set: using this machine's key in var/secret-key "
                    "(local use only; replicas need one shared key)")
        settings = with_secret_key(settings)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="clinic_staff_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.behind_tls,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.staff_idle_minutes),
        # The token lives as long as the staff session, which has its own expiry.
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=settings.behind_tls,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.extensions["clinic_settings"] = settings
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,
                                x_proto=settings.trusted_proxies,
                                x_host=settings.trusted_proxies)

    from webapp import console
    from webapp.site import bp as site_bp

    # The console's login check runs before the CSRF check, so a logged-out POST gets 401.
    console.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(site_bp)

    headers = security_headers(settings)

    @app.after_request
    def add_security_headers(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if request.path.startswith(console.URL_PREFIX):
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response

    return app


def security_headers(settings: Settings) -> dict[str, str]:
    rasa = urlsplit(settings.rasa_public_url)
    websocket = {"https": "wss", "http": "ws"}.get(rasa.scheme, "wss")
    rasa_sources = f"{rasa.scheme}://{rasa.netloc} {websocket}://{rasa.netloc}" \
        if rasa.netloc else ""
    policy = "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        f"connect-src 'self' {rasa_sources}".strip(),
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])
    headers = {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if settings.behind_tls:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers
