"""Queue a background job by its task's name, in the caller's database transaction.

Services queue their jobs here rather than importing leads.tasks, which imports the services. A job queued
here commits with the rows it concerns and rolls back with them, in the web process and in the worker alike:
procrastinate's Django app queues through Django's connection, but its worker swaps that connector for a pool
of its own, whose inserts would commit at once (and a job could run before the rows it is about). So jobs are
queued through an App of their own on Django's connection, by procrastinate's public ``configure_task``, with
the queue, priority and lock that leads.tasks declares for the task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from django.db import InterfaceError, OperationalError, transaction
from procrastinate import App
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException

# The tasks services queue (leads.tasks declares each under this name, its dotted path).
ALERT_NEW_LEADS = "leads.tasks.alert_new_leads"
ALERT_ASSIGNEE = "leads.tasks.alert_assignee"
ALERT_OVERDUE = "leads.tasks.alert_overdue"
ALERT_PREVIOUS_ASSIGNEE = "leads.tasks.alert_previous_assignee"
ALERT_FOLLOW_UP = "leads.tasks.alert_follow_up"

_in_transaction = App(connector=DjangoConnector())


def defer(
    task_name: str, *, queueing_lock: str | None = None, schedule_at: datetime | None = None, **kwargs: Any
) -> bool:
    """Queue ``task_name``'s job with ``kwargs`` in the current transaction.

    With a ``queueing_lock``, at most one such job waits: False when one already does (it will do this one's
    work), and the caller's transaction goes on unharmed.
    """
    task = app.tasks[task_name]
    deferrer = _in_transaction.configure_task(
        task_name,
        allow_unknown=True,  # known to the worker's app, which runs it; this one only queues
        queue=task.queue,
        priority=task.priority,
        lock=task.lock,
        queueing_lock=queueing_lock or task.queueing_lock,
        schedule_at=schedule_at,
    )
    try:
        with transaction.atomic():  # a savepoint: a job refused for its queueing lock must not abort the caller's
            deferrer.defer(**kwargs)
    except AlreadyEnqueued:
        return False
    except ConnectorException as exc:
        # procrastinate hands back the database's own errors as its ConnectorException. The ones that mean "try
        # again" (a lock timeout, the server going away) go on as Django's, as from any other write here, so a
        # webhook answers them with its 503 and Retry-After.
        cause = exc.__cause__
        if isinstance(cause, psycopg.OperationalError):
            raise OperationalError(str(cause)) from exc
        if isinstance(cause, psycopg.InterfaceError):
            raise InterfaceError(str(cause)) from exc
        raise
    return True
