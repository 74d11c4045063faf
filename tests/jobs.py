"""Running queued jobs in a test with procrastinate's own worker, as ``manage.py procrastinate worker`` runs them."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connections
from procrastinate import JobContext
from procrastinate.contrib.django import app
from procrastinate.worker import Worker

# Far longer than any test's jobs take: a worker still busy by then is stuck, waiting on a lock the test holds.
WORKER_TIMEOUT_SECONDS = 30.0


def run_queued_jobs() -> None:
    """Run every job waiting in the queue, and return once the worker has caught up with it.

    This is procrastinate's test worker (``wait=False``: it stops when no job is left) on the connector the real
    worker uses (Django's own reads a job's arguments back as text, and cannot run one). It runs each job on a
    thread, and so on a database connection, of its own: it sees only committed rows, and waits for any lock
    the test holds. A test that calls this must be transactional, ``@pytest.mark.django_db(transaction=True)``.

    Jobs run one at a time, in the queue's order, so a test's emails go out in the order their jobs were queued,
    and stay in the queue's table with their status. A job that raises fails the test with its error, as calling
    its task would.
    """
    errors: list[BaseException] = []

    def each_job_closes_its_connection(call_next: Callable[[], Any], context: JobContext, worker: Worker) -> Any:
        try:
            return call_next()
        except Exception as error:
            errors.append(error)
            raise
        finally:
            connections.close_all()  # this job's thread's: the test database can only be dropped with none open

    def work() -> None:
        try:
            with app.replace_connector(app.connector.get_worker_connector()), _no_periodic_jobs_deferred():
                app.run_worker(
                    wait=False,
                    install_signal_handlers=False,  # not the main thread; nor the test's signals to take
                    listen_notify=False,  # it stops as soon as the queue is empty: nothing to listen for
                    concurrency=1,
                    task_middleware=[each_job_closes_its_connection],
                )
        except Exception as error:
            errors.append(error)

    # On a thread, so that a stuck worker fails the test rather than hanging the run.
    worker = threading.Thread(target=work, name="test worker", daemon=True)
    worker.start()
    worker.join(timeout=WORKER_TIMEOUT_SECONDS)
    if worker.is_alive():
        raise AssertionError(
            f"The worker had not caught up after {WORKER_TIMEOUT_SECONDS:.0f} s: is a job waiting on a lock the "
            "test holds? A test that runs jobs needs @pytest.mark.django_db(transaction=True)."
        )
    if errors:
        raise errors[0]


@contextlib.contextmanager
def _no_periodic_jobs_deferred() -> Iterator[None]:
    """No periodic job deferred while the test's jobs run: their own tests call them.

    A starting worker defers each periodic job whose time came within ``max_delay`` (with one every five
    minutes, one always has) and would run it at once, at today's date, over the test's rows: the overdue
    escalation would email about leads the test never meant to be late. With no delay allowed, none is.
    """
    defaults = app.periodic_defaults
    saved = dict(defaults)
    defaults["max_delay"] = 0
    try:
        yield
    finally:
        defaults.clear()
        defaults.update(saved)
