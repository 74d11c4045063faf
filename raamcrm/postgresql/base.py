"""Django's PostgreSQL backend, with a health check that costs no round trip on an idle connection.

With CONN_HEALTH_CHECKS, Django checks a reused connection before a request's first query by
sending ``SELECT 1``: a round trip on every request, which costs a worker about as much CPU as a
Redis round trip (bench/ingest.py) and the database some more. An idle connection has nothing to
read from its socket unless the server has spoken first, and in practice that means it is saying
goodbye: a restart or failover ends every session with a message and closes the socket. So an idle
connection is checked by asking the kernel, without waiting, whether its socket is readable. A
connection the server dropped is then replaced before the lead's statement, as with ``SELECT 1``;
a connection in any other state (or one Django asks about after an error) still gets the round trip.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != TransactionStatus.IDLE or self.errors_occurred:
            return super().is_usable()
        poller = select.poll()
        poller.register(connection.fileno(), select.POLLIN)
        return not poller.poll(0)  # readable (a goodbye, or EOF), hung up or in error: unusable
