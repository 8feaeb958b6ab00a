"""Running the case store's Alembic migrations from code (the CLI, start-up and tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

__all__ = ["alembic_config", "upgrade"]

_SCRIPTS = Path(__file__).parent / "migrations"


def alembic_config(url: str, *, connect_args: dict[str, Any] | None = None) -> Config:
    """Return an Alembic configuration for a database URL, without any ini file."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connect_args"] = connect_args or {}
    return config


def upgrade(url: str, revision: str = "head", *, connect_args: dict[str, Any] | None = None) -> None:
    """Upgrade the database to a revision (blocking; call it outside the event loop or in a thread)."""
    command.upgrade(alembic_config(url, connect_args=connect_args), revision)
