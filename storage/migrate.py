"""Apply the Alembic migrations programmatically (the run and test commands call this)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str | None = None) -> None:
    if database_url is None:
        from clinic.settings import get_settings
        database_url = get_settings().database_url
    command.upgrade(alembic_config(database_url), "head")
