"""PostgreSQL's transaction-level locks, for writes that must take turns.

Advisory locks name what is contended by a string (a buyer's phone, a queueing lock), so two writers that
would both find "no row yet" wait for each other without locking any table. Each is held until the end of
the caller's transaction, which must be open (``transaction.atomic()``). The SQL for them lives here alone.
"""

from __future__ import annotations

from django.db import connection


def advisory_lock(*keys: str, shared: bool = False) -> None:
    """Take ``keys``' advisory locks in the order given (callers agree on an order, so none deadlock).
    ``shared``: many holders at once, each keeping the exclusive lock out until they have all committed."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute(f"SELECT {function}(hashtextextended(%s, 0))", [key])


def lock_timeout(seconds: int) -> None:
    """Cancel whatever in the rest of this transaction waits longer than ``seconds`` for a lock (a table's, a
    row's, an advisory one, or the commit's deferred foreign-key checks) with an OperationalError."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{seconds}s"])
