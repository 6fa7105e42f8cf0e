"""The ledger's errors. Each names the request field it is about and carries the gRPC status the
server answers with (`status`, a name of grpc.StatusCode), so the mapping is written once."""

from __future__ import annotations


class LedgerError(Exception):
    status = "INTERNAL"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidArgument(LedgerError):
    status = "INVALID_ARGUMENT"


class NotFound(LedgerError):
    """An unknown reservation or order."""

    status = "NOT_FOUND"


class FailedPrecondition(LedgerError):
    """The request is well formed but the reservation or order is not in a state that allows it;
    also a database whose schema is not at the package's migration head."""

    status = "FAILED_PRECONDITION"


class OutOfStock(FailedPrecondition):
    """A deposit (or full-payment presale order) that would sell more units than the presale's
    `stock` has left: the reservation is refused and holds nothing (reason OUT_OF_STOCK)."""

    reason = "OUT_OF_STOCK"

    def __init__(self, field: str, presale: str, left: int, asked: int) -> None:
        super().__init__(field, f"OUT_OF_STOCK: presale `{presale[:64]}` has {max(0, left)} units left, "
                                f"the line asks {asked}")
        self.presale = presale
        self.left = max(0, left)


class ReservationExpired(FailedPrecondition):
    """Commit after the ttl: the checkout must reserve again."""


class AlreadyExists(LedgerError):
    """A second live reservation for one order (`order_id`)."""

    status = "ALREADY_EXISTS"


class IdempotencyConflict(AlreadyExists):
    """The idempotency key was used before with another request."""

    def __init__(self, operation: str) -> None:
        super().__init__("idempotency_key", f"this key was used before with another {operation} request")


class Contention(LedgerError):
    """The pricer and the guarded writes did not settle within the attempts allowed; retry."""

    status = "ABORTED"
