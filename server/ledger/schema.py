"""The one schema, for SQLite and PostgreSQL alike (SQLAlchemy Core). Migrations create it
(migrations/versions); tests check that the migrated database and these tables agree.

- counters: one row per (promotion, metric, subject, period); `used` only ever changes by the
  guarded updates of counters.py, and the CHECKs hold it in 0..cap even against a bad write;
- entries: append-only, one per change of a counter: every counter equals the sum of its
  entries, and a reservation's holds are the sums of its entries;
- reservations, lines, redemptions, allocations: what each order holds and how a return gives
  back its share; with `payable` and `local_day`, the figures of ledger.md §6;
- codes: issued codes (unique, normalized); their use is a counter of metric `code` (cap 1);
- idempotency: per key, the request's hash and the first answer;
- parent_orders: presale parent orders (ledger.md §5), their stock a counter of metric `units`.
Times are integer microseconds since the epoch (UTC): exact and ordered on both backends.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from server.ledger.types import Metric, State

NAME = 200  # promotion, buyer, order and line ids

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

# SQLite auto-numbers only an INTEGER PRIMARY KEY
ID = BigInteger().with_variant(Integer(), "sqlite")


def one_of(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


PARENT_STATES = ("deposit_held", "deposit_paid", "balance_held", "completed", "balance_expired", "cancelled")
CAUSES = ("reserve", "cut", "release", "expire", "cancel", "return")

counters = Table(
    "counters", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("promotion", String(NAME), nullable=False),
    Column("metric", String(8), nullable=False),
    Column("subject", String(NAME), nullable=False),
    Column("period", String(16), nullable=False),
    Column("used", BigInteger, nullable=False),
    Column("cap", BigInteger, nullable=False),
    # the size of the last change: RETURNING shows new values only, and a cut needs its size
    Column("moved", BigInteger, nullable=False),
    UniqueConstraint("promotion", "metric", "subject", "period"),
    CheckConstraint(one_of("metric", Metric), name="metric"),
    CheckConstraint("used >= 0", name="used_not_negative"),
    CheckConstraint("used <= cap", name="used_within_cap"),
)

reservations = Table(
    "reservations", metadata,
    Column("id", String(40), primary_key=True),
    Column("order_id", String(NAME), nullable=False),
    Column("parent_order_id", String(NAME)),
    Column("buyer", String(NAME), nullable=False),
    Column("state", String(12), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("local_day", String(10), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("committed_us", BigInteger),
    Column("ended_us", BigInteger),
    Column("payable", BigInteger, nullable=False),
    Column("answer", Text),
    CheckConstraint(one_of("state", State), name="state"),
    Index(None, "state", "expires_us"),
    Index(None, "parent_order_id"),
    Index(None, "local_day"),
    # one live reservation per order
    Index("uq_reservations_live_order", "order_id", unique=True,
          sqlite_where=Column("state").in_(["held", "committed"]),
          postgresql_where=Column("state").in_(["held", "committed"])),
)

entries = Table(
    "entries", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("reservation_id", String(40), ForeignKey("reservations.id"), nullable=False),
    Column("counter_id", ID, ForeignKey("counters.id"), nullable=False),
    Column("delta", BigInteger, nullable=False),
    Column("cause", String(8), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    CheckConstraint("delta <> 0", name="delta_not_zero"),
    CheckConstraint(one_of("cause", CAUSES), name="cause"),
    Index(None, "reservation_id"),
    Index(None, "counter_id"),
)

lines = Table(
    "lines", metadata,
    Column("reservation_id", String(40), ForeignKey("reservations.id"), primary_key=True),
    Column("line_id", String(NAME), primary_key=True),
    Column("quantity", BigInteger, nullable=False),
    Column("final", BigInteger, nullable=False),
    Column("returned", BigInteger, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("final >= 0", name="final_not_negative"),
    CheckConstraint("returned >= 0 AND returned <= quantity", name="returned_within_quantity"),
)

redemptions = Table(
    "redemptions", metadata,
    Column("reservation_id", String(40), ForeignKey("reservations.id"), primary_key=True),
    Column("promotion", String(NAME), primary_key=True),
    Column("desired", BigInteger, nullable=False),
    Column("granted", BigInteger, nullable=False),
    Column("code", String(64)),
    CheckConstraint("granted >= 0 AND granted <= desired", name="granted_within_desired"),
    Index(None, "promotion"),
)

allocations = Table(
    "allocations", metadata,
    Column("reservation_id", String(40), primary_key=True),
    Column("promotion", String(NAME), primary_key=True),
    Column("line_id", String(NAME), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    CheckConstraint("amount >= 0", name="amount_not_negative"),
    ForeignKeyConstraint(["reservation_id", "promotion"], ["redemptions.reservation_id", "redemptions.promotion"]),
    ForeignKeyConstraint(["reservation_id", "line_id"], ["lines.reservation_id", "lines.line_id"]),
)

codes = Table(
    "codes", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("coupon", String(NAME), nullable=False),
    Column("batch", String(NAME), nullable=False),  # the idempotency key of the issue
    Column("issued_us", BigInteger, nullable=False),
    Index(None, "batch", "id"),
    Index(None, "coupon"),
)

idempotency = Table(
    "idempotency", metadata,
    Column("key", String(NAME), primary_key=True),
    Column("operation", String(16), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("answer", Text),  # set in the transaction that claimed the key
    Column("created_us", BigInteger, nullable=False),
)

parent_orders = Table(
    "parent_orders", metadata,
    Column("order_id", String(NAME), primary_key=True),
    Column("presale", String(NAME), nullable=False),
    Column("line_id", String(NAME), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("deposit_reservation_id", String(40), ForeignKey("reservations.id")),
    Column("balance_reservation_id", String(40), ForeignKey("reservations.id")),
    Column("ship_us", BigInteger),
    Column("balance_closes_us", BigInteger),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    CheckConstraint("units > 0", name="units_positive"),
    CheckConstraint(one_of("state", PARENT_STATES), name="state"),
    Index(None, "presale", "state"),
)
