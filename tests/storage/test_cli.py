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


def test_export_fhir_writes_a_redacted_bundle_per_conversation_and_is_audited(
        settings_env, engine, tmp_path):
    import json as json_module
    from datetime import datetime, timezone

    from fhir.resources.R4B.bundle import Bundle

    from storage.repository import Repository

    repository = Repository(engine)
    for sender in ("whatsapp:+447700900481", "rest-2"):
        repository.record_outcome(
            conversation_id=sender, level="urgent", red_flags=[], rules=[],
            protocol_version="2026.11.0", plan=[], reason="", findings={"back_pain": "present"},
            channel="rest", created_at=datetime.now(timezone.utc), event_key="user@1", sources=[])
    out = tmp_path / "bundles.ndjson"
    cli(["export-fhir", "--all", "--out", str(out)])

    lines = out.read_text().splitlines()
    bundles = [Bundle.parse_raw(line) for line in lines]
    assert len(bundles) == 2
    assert all(json_module.loads(line)["resourceType"] == "Bundle" for line in lines)
    assert "+447700900481" not in out.read_text()
    with session_factory(engine)() as session:
        [entry] = session.execute(select(AuditEntry).where(
            AuditEntry.action == "export_fhir")).scalars().all()
    assert entry.details == {"conversations": "all", "redacted": True}
