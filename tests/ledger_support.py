"""Support for the ledger suites (tests/server/test_ledger_*.py import from here).

- A throwaway PostgreSQL server, started once per test session from the binaries `pg_config
  --bindir` names (initdb, pg_ctl), listening on a Unix socket in a temporary directory only, run
  as the `postgres` system user when the tests run as root (PostgreSQL refuses root), stopped at
  the end of the session. Without PostgreSQL its tests are skipped, unless
  PROMO_REQUIRE_POSTGRES=1 (CI), which makes that a failure.
- `ledger_url`: an empty migrated database for each test, on each backend (parametrized): on
  SQLite a copy of one migrated file, on PostgreSQL the session's database emptied.
- `Clock`: the time a test sets and moves.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import create_engine, text

from server.ledger.ledger import Ledger
from server.ledger.migrate import migrate
from server.ledger.types import Hold, Order, ReserveRequest

BACKENDS = ["sqlite", "postgresql"]
REQUIRE_POSTGRES = os.environ.get("PROMO_REQUIRE_POSTGRES") == "1"
RACE_REPEAT = int(os.environ.get("PROMO_RACE_REPEAT", "5"))
T = TypeVar("T")


class Postgres:
    """One PostgreSQL server in a temporary directory, reachable only through its socket."""

    def __init__(self, durable: bool = False) -> None:
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        self.bin = Path(bindir)
        self.dir = Path(tempfile.mkdtemp(prefix="promo-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        settings = [f"-c unix_socket_directories={self.dir}", "-c listen_addresses=''", "-c max_connections=300"]
        if not durable:  # a test server: a crash may lose it all
            settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run("pg_ctl", "-D", str(data), "-l", str(self.dir / "log"), "-w", "-o", " ".join(settings), "start")
        self.data = data
        self._names = itertools.count()

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / program), *args], check=True, capture_output=True,
                       cwd=self.dir)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.dir}"

    def create(self) -> str:
        """A new empty database; returns its URL."""
        name = f"ledger_{next(self._names)}"
        engine = create_engine(self.url("postgres").replace("postgresql:", "postgresql+psycopg:"),
                               isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


_server: Postgres | None = None
_failure: str | None = None
_database: str | None = None


def postgres(config: pytest.Config) -> Postgres:
    """The session's server, started at the first call; a skip (or with
    PROMO_REQUIRE_POSTGRES=1 a failure) where there is none."""
    global _server, _failure
    if _server is None and _failure is None:
        try:
            _server = Postgres()
        except (OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", b"") or b""
            _failure = f"no PostgreSQL server: {error} {detail.decode(errors='replace')[-300:]}"
        else:
            config.add_cleanup(_server.stop)
    if _server is None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{_failure} (PROMO_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(_failure or "no PostgreSQL server")
    return _server


def postgres_url(config: pytest.Config) -> str:
    """The session's migrated PostgreSQL database, emptied: deleting a test's few rows takes
    about 2 ms where creating a database takes 180."""
    global _database
    if _database is None:
        _database = postgres(config).create()
        migrate(_database)
    wipe(_database)
    return _database


def wipe(url: str) -> None:
    from server.ledger.database import connect
    from server.ledger.schema import metadata
    engine = connect(url, pool_size=1)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


_sqlite_template: Path | None = None


def sqlite_url(directory: Path) -> str:
    """A migrated SQLite database file in `directory` (a copy of the session's template)."""
    global _sqlite_template
    if _sqlite_template is None:
        template = Path(tempfile.mkdtemp(prefix="promo-ledger-")) / "template.db"
        migrate(f"sqlite:///{template}")  # the engine is closed: no WAL is left beside the file
        _sqlite_template = template
    target = directory / "ledger.db"
    shutil.copy(_sqlite_template, target)
    return f"sqlite:///{target}"


def fresh_url(backend: str, config: pytest.Config, directory: Path) -> str:
    if backend == "sqlite":
        return sqlite_url(directory)
    return postgres_url(config)


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_url(request.param, request.config, tmp_path)


class Clock:
    """A clock tests set and move; the ledger reads it for expiry and default order times."""

    def __init__(self, at: datetime = datetime(2024, 11, 11, 4, 0, tzinfo=UTC)) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(ledger_url: str, clock: Clock) -> Iterator[Ledger]:
    with Ledger(ledger_url, clock=clock) as opened:
        yield opened


def request(order_id: str, *holds: Hold, buyer: str = "u1", key: str | None = None, **fields: object) -> ReserveRequest:
    """A reserve of `holds` for `order_id`, its key derived from the order unless given."""
    return ReserveRequest(order_id=order_id, idempotency_key=key or f"reserve-{order_id}", buyer=buyer,
                          order=Order(holds=holds), **fields)  # type: ignore[arg-type]


def race(count: int, work: Callable[[int], T]) -> list[T]:
    """`work(0..count-1)` on `count` threads released together by a barrier."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException] = [None] * count  # type: ignore[list-item]

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as error:  # noqa: BLE001 - re-raised below, in the test's thread
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


def tables(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every ledger table, in order: two equal dumps mean nothing was written."""
    from server.ledger.database import connect
    from server.ledger.schema import metadata
    engine = connect(url, pool_size=1)
    with engine.connect() as conn:
        dump = {t.name: sorted(map(tuple, conn.execute(t.select())), key=repr) for t in metadata.sorted_tables}
    engine.dispose()
    return dump
