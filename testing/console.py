"""Signing a Flask test client into the staff console (tests and benchmarks)."""
from __future__ import annotations

import re


def csrf_token_in(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def log_in_test_client(client, email: str, password: str):
    """Sign a Flask test client in; returns the login response and a CSRF token for its forms
    (a new one: signing in starts a new session)."""
    token = csrf_token_in(client.get("/staff/login").get_data(as_text=True))
    response = client.post("/staff/login", data={"email": email, "password": password,
                                                  "csrf_token": token, "next": "/staff/"})
    page = client.get("/staff/handoffs")
    return response, csrf_token_in(page.get_data(as_text=True)) if page.status_code == 200 \
        else None
