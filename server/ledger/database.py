"""Connections: one SQLAlchemy engine per URL, and the two kinds of transaction the ledger runs.

- SQLite (embedded): WAL (readers never block the writer), `synchronous=FULL` (a committed write
  survives a power cut), a busy timeout, foreign keys on; every write transaction starts with
  `BEGIN IMMEDIATE`, taking the write lock up front so two writers never deadlock upgrading it.
- PostgreSQL (psycopg 3): writes in READ COMMITTED, where the guarded updates re-check their
  condition on the newest row version; reads in REPEATABLE READ, READ ONLY: one snapshot.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, String, Table, create_engine, event, func, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from server.ledger.errors import InvalidArgument

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000
_RETRIED = {"40P01", "40001"}  # deadlock detected, serialization failure: the transaction may run again
ATTEMPTS = 5


def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3; `sqlite:///path` a file."""
    try:
        parsed = make_url(url)
    except Exception:
        raise InvalidArgument("url", "not a database URL (sqlite:///path or postgresql://…)") from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.drivername == "sqlite" and parsed.database and parsed.database != ":memory:":
        return url
    raise InvalidArgument("url", "the ledger runs on sqlite:///path or postgresql://…")


def connect(url: str, pool_size: int = 10) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                               connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, isolation_level="READ COMMITTED",
                         pool_pre_ping=True)


def _sqlite_connect(dbapi: Any, _record: Any) -> None:
    dbapi.isolation_level = None  # the driver opens no transactions of its own: _sqlite_begin does
    for pragma in ("journal_mode=WAL", "synchronous=FULL", f"busy_timeout={BUSY_TIMEOUT_MS}", "foreign_keys=ON"):
        dbapi.execute(f"PRAGMA {pragma}")


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ledger_write") else "BEGIN")


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """One read-only snapshot. On PostgreSQL the transaction says so as its first statement (one
    round trip, where setting the connection's isolation and read-only flags and resetting them
    when it goes back to the pool takes four)."""
    with engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield conn


_writers: dict[str, threading.Lock] = {}


def _writer(engine: Engine) -> threading.Lock | nullcontext[None]:
    """SQLite takes one writer at a time; the threads of this process queue on a lock for it,
    since SQLite's busy handler polls with sleeps that grow to 100 ms (other processes still
    wait on the busy timeout)."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    return _writers.setdefault(str(engine.url.database), threading.Lock())


def write(engine: Engine, work: Callable[[Connection], T]) -> T:
    """`work` in one write transaction, run again if PostgreSQL aborted it for a deadlock."""
    for attempt in range(ATTEMPTS):
        try:
            with _writer(engine), engine.connect().execution_options(ledger_write=True) as conn, conn.begin():
                return work(conn)
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) not in _RETRIED or attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def texts(conn: Connection, values: list[str]) -> Any:
    """A one-column table (`value`) of `values`, sent as one parameter: a batch insert of many
    rows is one short statement (unnest on PostgreSQL, json_each on SQLite)."""
    if conn.dialect.name == "postgresql":
        return func.unnest(literal(values, postgresql.ARRAY(String()))).table_valued("value").render_derived()
    return func.json_each(json.dumps(values)).table_valued("value")


def insert_new(conn: Connection, table: Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING, in the dialect's words."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


_built: dict[tuple[str, str], Any] = {}


def built(conn: Connection, name: str, build: Callable[[Connection], Any]) -> Any:
    """The statement `build` makes, made once per dialect and kept: a statement built on every
    call costs SQLAlchemy more than SQLite takes to run it (~0.5 ms against ~0.05 ms). Its values
    are bind parameters, given at execute."""
    key = (conn.dialect.name, name)
    found = _built.get(key)
    if found is None:
        found = _built[key] = build(conn)
    return found
