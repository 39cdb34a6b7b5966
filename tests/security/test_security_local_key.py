"""Without CLINIC_SECRET_KEY (local use) the key is random per machine, private and stable, and
only the processes that sign or hash with it (web app, storage CLI) make it."""
import stat

from clinic import settings as clinic_settings


def test_a_local_key_is_made_once_kept_private_and_reused(monkeypatch, tmp_path):
    monkeypatch.delenv("CLINIC_SECRET_KEY", raising=False)
    monkeypatch.setattr(clinic_settings, "VAR_DIR", tmp_path)
    assert clinic_settings.Settings().secret_key == "" and not (tmp_path / "secret-key").exists(), \
        "building settings (Rasa does it for every message) touches no file"
    first = clinic_settings.with_secret_key(clinic_settings.Settings()).secret_key
    assert len(first) >= 40, "a real random key, not an empty one"
    assert clinic_settings.with_secret_key(clinic_settings.Settings()).secret_key == first, "the same after a restart: sessions and audit hashes hold"
    assert stat.S_IMODE((tmp_path / "secret-key").stat().st_mode) == 0o600


def test_the_environment_key_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("CLINIC_SECRET_KEY", "from-the-environment")
    monkeypatch.setattr(clinic_settings, "VAR_DIR", tmp_path)
    assert clinic_settings.with_secret_key(clinic_settings.Settings()).secret_key == "from-the-environment"
    assert not (tmp_path / "secret-key").exists()
