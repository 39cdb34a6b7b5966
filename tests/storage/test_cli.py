import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from storage.cli import main as cli
from storage.db import session_factory
from storage.models import AuditEntry, StaffUser

pytestmark = pytest.mark.postgres

PASSWORD = "correct horse battery staple"


@pytest.fixture
def settings_env(pg_url, engine, monkeypatch):
    monkeypatch.setenv("CLINIC_DATABASE_URL", pg_url)
    monkeypatch.setenv("CLINIC_ADMIN_PASSWORD", PASSWORD)


def test_create_admin_stores_an_argon2_hash_and_never_prints_the_password(
        settings_env, engine, capsys):
    cli(["create-admin", "--email", "Lead@Clinic.example"])

    with session_factory(engine)() as session:
        user = session.execute(select(StaffUser)).scalar_one()
        actions = session.execute(select(AuditEntry.action)).scalars().all()
    assert (user.email, user.role, user.active) == ("lead@clinic.example", "admin", True)
    assert user.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(user.password_hash, PASSWORD)
    assert PASSWORD not in capsys.readouterr().out
    assert actions == ["create_user"]


def test_create_admin_refuses_a_short_password_and_a_duplicate(settings_env, monkeypatch):
    monkeypatch.setenv("CLINIC_ADMIN_PASSWORD", "short")
    with pytest.raises(SystemExit, match="at least 12"):
        cli(["create-admin", "--email", "a@clinic.example"])
    monkeypatch.setenv("CLINIC_ADMIN_PASSWORD", PASSWORD)
    cli(["create-admin", "--email", "a@clinic.example"])
    with pytest.raises(SystemExit, match="already exists"):
        cli(["create-admin", "--email", "a@clinic.example"])
