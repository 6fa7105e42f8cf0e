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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, String, Table, bindparam, create_engine, event, func, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

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
    """BEGIN IMMEDIATE for a write, BEGIN for a read, sent to the driver (as `run` sends statements)."""
    sql = "BEGIN IMMEDIATE" if conn.get_execution_options().get("ledger_write") else "BEGIN"
    dbapi = conn.connection.driver_connection
    try:
        dbapi.execute(sql)  # type: ignore[union-attr]
    except conn.dialect.loaded_dbapi.Error as error:  # busy past the timeout: SQLAlchemy's OperationalError
        raise DBAPIError.instance(sql, (), error, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect) from error


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


class Rows:
    """The rows a statement `run` returned, as plain tuples."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def one(self) -> tuple[Any, ...]:
        if len(self.rows) != 1:
            raise AssertionError(f"one row expected, {len(self.rows)} found")
        return self.rows[0]


_compiled: dict[tuple[str, str], tuple[str, Callable[[dict[str, Any]], Any], bool]] = {}


def _binder(positions: tuple[str, ...] | None, defaults: dict[str, Any]) -> Callable[[dict[str, Any]], Any]:
    """Turns a call's values into what the driver takes: a tuple in the statement's order (qmark,
    numeric), else the dict; with the values bound when the statement was built (`defaults`)."""
    if positions is None:
        return (lambda values: {**defaults, **values}) if defaults else (lambda values: values)
    if not positions:
        return lambda values: ()
    pick = itemgetter(*positions)
    if len(positions) == 1:
        return (lambda values: (pick({**defaults, **values}),)) if defaults else (lambda values: (pick(values),))
    return (lambda values: pick({**defaults, **values})) if defaults else pick


def run(conn: Connection, name: str, build: Callable[[], Any], params: dict[str, Any] | list[dict[str, Any]],
        keys: tuple[str, ...] | None = None) -> Rows:
    """Execute the statement `build` makes on the connection's driver cursor, in the
    connection's transaction: compiled once per dialect to its SQL text, so a call pays no
    cache-key walk, compile lookup, parameter or result processing, which cost SQLAlchemy
    ~0.05-0.07 ms a statement, ten times what SQLite takes to run it (a Reserve runs ~20).
    The statement's values must be bind parameters given here (`params`; a list for
    executemany; an insert names its columns in `keys`) or literals bound when it was built, and
    need no type processing (text and whole numbers). Driver errors are raised as SQLAlchemy's
    (OperationalError, IntegrityError, …), as `conn.execute` raises them."""
    key = (conn.dialect.name, name)
    found = _compiled.get(key)
    if found is None:
        statement = build()
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(keys) if keys is not None else None)
        positions = tuple(compiled.positiontup) if conn.dialect.paramstyle in ("qmark", "numeric") else None
        returns = bool(compiled.returning) or getattr(statement, "is_select", False)
        found = _compiled[key] = (compiled.string, _binder(positions, dict(compiled.params)), returns)
    sql, bound, returns = found
    dbapi = conn.connection.driver_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        if isinstance(params, list):
            cursor.executemany(sql, [bound(p) for p in params])
            return Rows([])
        cursor.execute(sql, bound(params))
        return Rows(cursor.fetchall() if returns else [])
    except conn.dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(sql, params, error, conn.dialect.loaded_dbapi.Error,
                                  dialect=conn.dialect) from error
    finally:
        cursor.close()


class Savepoint:
    """A savepoint in the connection's transaction, set and ended by statements sent straight
    to the driver (SQLAlchemy's `begin_nested` builds and compiles each SAVEPOINT / RELEASE
    anew, ~0.3 ms a pair on SQLite). `commit` keeps what was done since it was set, `rollback`
    undoes it; an exception that ends the whole transaction needs neither."""

    def __init__(self, conn: Connection, name: str) -> None:
        self._cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self._name = name
        self._send(f"SAVEPOINT {name}", conn)
        self._conn = conn

    def _send(self, sql: str, conn: Connection) -> None:
        try:
            self._cursor.execute(sql)
        except conn.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(sql, (), error, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect) from error

    def commit(self) -> None:
        self._send(f"RELEASE SAVEPOINT {self._name}", self._conn)
        self._cursor.close()

    def rollback(self) -> None:
        self._send(f"ROLLBACK TO SAVEPOINT {self._name}", self._conn)
        self._send(f"RELEASE SAVEPOINT {self._name}", self._conn)
        self._cursor.close()


def numbered(prefix: str, values: Sequence[Any]) -> dict[str, Any]:
    """`values` as the bind parameters `in_list(prefix, len(values))` names (prefix0, prefix1, …):
    a list in a statement that `run` sends, compiled once per length."""
    return {f"{prefix}{i}": value for i, value in enumerate(values)}


def in_list(prefix: str, size: int) -> list[Any]:
    return [bindparam(f"{prefix}{i}") for i in range(size)]
