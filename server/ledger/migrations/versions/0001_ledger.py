"""the ledger, v1: counters and their entries, reservations, lines, redemptions, allocations, codes,
idempotency; presale parent orders (ledger.md §5)

Revision ID: 0001
Revises:
Frozen: a later change is a new revision, never an edit here (tests compare the migrated database
with schema.py).
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LIVE = sa.text("state IN ('held', 'committed')")


def upgrade() -> None:
    def col(name: str, type_: sa.types.TypeEngine, nullable: bool = False, **kw: Any) -> sa.Column:
        return sa.Column(name, type_, nullable=nullable, **kw)

    text, big, key = sa.String(200), sa.BigInteger(), sa.String(40)
    op.create_table(
        "counters",
        col("id", ID, primary_key=True, autoincrement=True),
        col("promotion", text), col("metric", sa.String(8)), col("subject", text), col("period", sa.String(16)),
        col("used", big), col("cap", big), col("moved", big),
        sa.UniqueConstraint("promotion", "metric", "subject", "period",
                            name="uq_counters_promotion_metric_subject_period"),
        sa.CheckConstraint("metric IN ('uses', 'spend', 'code', 'units')", name="ck_counters_metric"),
        sa.CheckConstraint("used >= 0", name="ck_counters_used_not_negative"),
        sa.CheckConstraint("used <= cap", name="ck_counters_used_within_cap"),
    )
    op.create_table(
        "reservations",
        col("id", key, primary_key=True),
        col("order_id", text), col("parent_order_id", text, True), col("buyer", text), col("state", sa.String(12)),
        col("timezone", sa.String(64)), col("at_us", big), col("local_day", sa.String(10)),
        col("created_us", big), col("expires_us", big), col("committed_us", big, True), col("ended_us", big, True),
        col("payable", big), col("answer", sa.Text(), True),
        sa.CheckConstraint("state IN ('held', 'committed', 'released', 'expired', 'cancelled', 'returned')",
                           name="ck_reservations_state"),
    )
    op.create_index("ix_reservations_state_expires_us", "reservations", ["state", "expires_us"])
    op.create_index("ix_reservations_parent_order_id", "reservations", ["parent_order_id"])
    op.create_index("ix_reservations_local_day", "reservations", ["local_day"])
    op.create_index("uq_reservations_live_order", "reservations", ["order_id"], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)
    op.create_table(
        "entries",
        col("id", ID, primary_key=True, autoincrement=True),
        col("reservation_id", key), col("counter_id", ID), col("delta", big), col("cause", sa.String(8)),
        col("at_us", big),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.id"], name="fk_entries_reservation_id_reservations"),
        sa.ForeignKeyConstraint(["counter_id"], ["counters.id"], name="fk_entries_counter_id_counters"),
        sa.CheckConstraint("delta <> 0", name="ck_entries_delta_not_zero"),
        sa.CheckConstraint("cause IN ('reserve', 'cut', 'release', 'expire', 'cancel', 'return')",
                           name="ck_entries_cause"),
    )
    op.create_index("ix_entries_reservation_id", "entries", ["reservation_id"])
    op.create_index("ix_entries_counter_id", "entries", ["counter_id"])
    op.create_table(
        "lines",
        col("reservation_id", key, primary_key=True), col("line_id", text, primary_key=True),
        col("quantity", big), col("final", big), col("returned", big),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.id"], name="fk_lines_reservation_id_reservations"),
        sa.CheckConstraint("quantity > 0", name="ck_lines_quantity_positive"),
        sa.CheckConstraint("final >= 0", name="ck_lines_final_not_negative"),
        sa.CheckConstraint("returned >= 0 AND returned <= quantity", name="ck_lines_returned_within_quantity"),
    )
    op.create_table(
        "redemptions",
        col("reservation_id", key, primary_key=True), col("promotion", text, primary_key=True),
        col("desired", big), col("granted", big), col("code", sa.String(64), True),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.id"],
                                name="fk_redemptions_reservation_id_reservations"),
        sa.CheckConstraint("granted >= 0 AND granted <= desired", name="ck_redemptions_granted_within_desired"),
    )
    op.create_index("ix_redemptions_promotion", "redemptions", ["promotion"])
    op.create_table(
        "allocations",
        col("reservation_id", key, primary_key=True), col("promotion", text, primary_key=True),
        col("line_id", text, primary_key=True), col("amount", big),
        sa.ForeignKeyConstraint(["reservation_id", "promotion"], ["redemptions.reservation_id", "redemptions.promotion"],
                                name="fk_allocations_reservation_id_redemptions"),
        sa.ForeignKeyConstraint(["reservation_id", "line_id"], ["lines.reservation_id", "lines.line_id"],
                                name="fk_allocations_reservation_id_lines"),
        sa.CheckConstraint("amount >= 0", name="ck_allocations_amount_not_negative"),
    )
    op.create_table(
        "codes",
        col("id", ID, primary_key=True, autoincrement=True),
        col("code", sa.String(64)), col("coupon", text), col("batch", text), col("issued_us", big),
        sa.UniqueConstraint("code", name="uq_codes_code"),
    )
    op.create_index("ix_codes_batch_id", "codes", ["batch", "id"])
    op.create_index("ix_codes_coupon", "codes", ["coupon"])
    op.create_table(
        "idempotency",
        col("key", text, primary_key=True), col("operation", sa.String(16)), col("request_hash", sa.String(64)),
        col("answer", sa.Text(), True), col("created_us", big),
    )
    op.create_table(
        "parent_orders",
        col("order_id", text, primary_key=True), col("presale", text), col("line_id", text), col("units", big),
        col("state", sa.String(16)), col("deposit_reservation_id", key, True), col("balance_reservation_id", key, True),
        col("ship_us", big, True), col("balance_closes_us", big, True), col("created_us", big), col("updated_us", big),
        sa.ForeignKeyConstraint(["deposit_reservation_id"], ["reservations.id"],
                                name="fk_parent_orders_deposit_reservation_id_reservations"),
        sa.ForeignKeyConstraint(["balance_reservation_id"], ["reservations.id"],
                                name="fk_parent_orders_balance_reservation_id_reservations"),
        sa.CheckConstraint("units > 0", name="ck_parent_orders_units_positive"),
        sa.CheckConstraint("state IN ('deposit_held', 'deposit_paid', 'balance_held', 'completed', "
                           "'balance_expired', 'cancelled')", name="ck_parent_orders_state"),
    )
    op.create_index("ix_parent_orders_presale_state", "parent_orders", ["presale", "state"])
