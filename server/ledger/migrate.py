"""Schema migrations (Alembic), run from code: `migrate(url)` brings a database to the head
revision of migrations/versions, `revision(url)` says where one stands. Replicas may all run
`migrate` at start-up: on PostgreSQL an advisory lock lets one migrate while the others wait."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from server.ledger.database import connect

SCRIPTS = Path(__file__).resolve().parent / "migrations"
_LOCK = 0x70726F6D6F  # "promo": the advisory lock key


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = conn
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def migrate(url: str) -> str:
    """Upgrade to the head revision (a no-op at head); returns it."""
    engine = connect(url, pool_size=1)
    try:
        with engine.connect().execution_options(ledger_write=True) as conn:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
                command.upgrade(_config(conn), "head")
    finally:
        engine.dispose()
    return head()


def revision(url: str) -> str | None:
    engine = connect(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return current(conn)
    finally:
        engine.dispose()
