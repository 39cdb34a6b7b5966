"""Serve the web app with waitress: `python -m webapp.wsgi` (applies migrations first).

`waitress-serve webapp.wsgi:app` also works once the database is migrated.
"""
from __future__ import annotations

import logging

from waitress import create_server

from clinic.settings import get_settings
from storage.migrate import upgrade
from webapp import create_app

app = create_app()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    upgrade(settings.database_url)
    # X-Forwarded-* headers are handled by the app (ProxyFix, CLINIC_TRUSTED_PROXIES).
    server = create_server(app, host=settings.web_host, port=settings.web_port, threads=8,
                           ident="clinic")
    shown_host = "localhost" if settings.web_host in ("0.0.0.0", "::") else settings.web_host
    print(f"Clinic page: http://{shown_host}:{settings.web_port}/  "
          f"Staff console: http://{shown_host}:{settings.web_port}/staff/", flush=True)
    server.run()


if __name__ == "__main__":
    main()
