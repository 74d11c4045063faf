"""Background jobs, on procrastinate's PostgreSQL queue (its Django integration discovers this module).

A new lead's alert job is queued by leads.intake.store's statement, in the lead's own transaction (or the lead
joins its recipient's job already waiting), so a committed lead has a job to send it and a rolled-back one
leaves none; ``requeue_pending_alerts`` covers a lead whose job no longer will. The periodic jobs replace the
cron services that ran ``check_lead_flow`` and ``prune_deliveries``; both commands still work from a shell.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone
from procrastinate import JobContext, RetryStrategy, builtin_tasks
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import JobDeferrer
from procrastinate.manager import JobManager
from procrastinate.tasks import Task

from leads.models import Lead
from leads.sales import notifications, sla

logger = logging.getLogger(__name__)

# Jobs queued through Django's own connection join the caller's transaction: committed with it, rolled back
# with it. The web process's app queues that way anyway, but the worker swaps the app's connector for a pool of
# its own, whose jobs commit at once; a job queued inside a periodic task's transaction could then run before
# that transaction commits and find nothing to do, as the SLA reassignment's alerts did. This reaches inside
# procrastinate (JobManager, JobDeferrer, DjangoConnector); tests/test_job_queue.py pins its version.
_IN_DJANGOS_TRANSACTION = JobManager(DjangoConnector(alias=DEFAULT_DB_ALIAS))


def defer_in_transaction(task: Task[..., Any, Any], **task_kwargs: Any) -> None:
    """Queue ``task`` in the current database transaction, in the web process and in the worker alike."""
    JobDeferrer(job_manager=_IN_DJANGOS_TRANSACTION, job=task.configure().job).defer(**task_kwargs)


# Longer than any alert job takes to come round, even under a burst (bench/RESULTS.md).
PENDING_ALERT_GRACE = timedelta(minutes=2)
# A mail server that is down is tried again after 2, 4, 8 … 1,024 s: about 34 minutes in all.
MAIL_RETRY = RetryStrategy(max_attempts=10, exponential_wait=2)


# A new lead's alert job waits under this queueing lock and its recipient's id (none: the Sales managers);
# leads.intake.store queues it with the lead, or joins the one already waiting.
NEW_LEADS_ALERT_LOCK = "new-leads-alert:"


def new_leads_alert_lock(user_id: int | None) -> str:
    """The queueing lock of ``user_id``'s alert job, as leads.intake.store's statement writes it (a test holds the two)."""
    return NEW_LEADS_ALERT_LOCK + ("" if user_id is None else str(user_id))


@app.task(queue="alerts", pass_context=True)
def alert_new_leads(context: JobContext, *, user_id: int | None, attempt: int = 0) -> None:
    """Mail the recipient's pending new leads (leads.sales.notifications.new_leads_alert_send).

    Retried on MAIL_RETRY's schedule, though not by procrastinate: a lead arriving while this job runs
    queues the next job under the same queueing lock, and procrastinate's retry, which puts this job back
    in the queue, would collide with it. So a failed run queues its successor, unless one already waits
    (it sends the same leads), and then fails.
    """
    assert context.job is not None  # procrastinate passes the job it runs
    queueing_lock = context.job.queueing_lock
    try:
        notifications.new_leads_alert_send(user_id=user_id, joined_under=queueing_lock)
    except Exception as exc:
        retry = MAIL_RETRY.get_retry_decision(exception=exc, job=context.job.evolve(attempts=attempt))
        if retry is not None:
            with contextlib.suppress(AlreadyEnqueued):
                alert_new_leads.configure(queueing_lock=queueing_lock, schedule_at=retry.retry_at).defer(
                    user_id=user_id, attempt=attempt + 1
                )
        raise


@app.task(queue="alerts", retry=MAIL_RETRY)
def alert_assignee(*, lead_id: int, user_id: int | None = None) -> None:
    notifications.assignee_alert_send(lead_id=lead_id, user_id=user_id)


# Queued by releases before alert_new_leads, each already claimed; kept until no such job is left.
@app.task(queue="alerts", retry=MAIL_RETRY)
def alert_nobody_on_duty(*, lead_id: int) -> None:
    notifications.nobody_on_duty_alert_send(lead_id=lead_id)


@app.task(queue="alerts", retry=MAIL_RETRY, pass_context=True)
def alert_overdue(context: JobContext, *, lead_ids: list[int]) -> None:
    assert context.job is not None  # procrastinate passes the job it runs
    try:
        notifications.overdue_alert_send(lead_ids=lead_ids)
    except Exception as exc:
        if MAIL_RETRY.get_retry_decision(exception=exc, job=context.job) is None:
            # The last try failed (the mail server down for over half an hour): the leads go back to the
            # periodic escalation, which claims them again, rather than counting as told.
            sla.overdue_alert_release(lead_ids)
        raise


@app.task(queue="alerts", retry=MAIL_RETRY)
def alert_previous_assignee(*, lead_id: int, user_id: int, handed_by: str = "") -> None:
    notifications.previous_assignee_alert_send(lead_id=lead_id, user_id=user_id, handed_by=handed_by)


# Speed to lead (leads.sales.sla): a lead is at most five minutes late for its overdue alert or its reassignment.
@app.periodic(cron="*/5 * * * *")
@app.task(queue="periodic")
def escalate_overdue_leads(timestamp: int) -> None:
    sla.overdue_leads_escalate()


# A lead whose alert has waited a while with no job to send it (handed to someone else before it went out,
# or left by a job that gave up while the mail server was down) gets one.
@app.periodic(cron="*/5 * * * *")
@app.task(queue="periodic")
def requeue_pending_alerts(timestamp: int) -> None:
    waiting = Lead.objects.filter(alert_pending=True, received_at__lt=timezone.now() - PENDING_ALERT_GRACE)
    # order_by(): Lead's default ordering would put received_at in the DISTINCT, one row per lead.
    for user_id in waiting.order_by().values_list("assignee", flat=True).distinct():
        with contextlib.suppress(AlreadyEnqueued):  # one is waiting already
            alert_new_leads.configure(queueing_lock=new_leads_alert_lock(user_id)).defer(user_id=user_id)


# Finished jobs (and their events) go after a week, failed ones too: a failed alert's leads are still pending,
# and requeue_pending_alerts gives them a new job.
@app.periodic(cron="30 21 * * *")  # 03:00 IST
@app.task(queue="periodic", pass_context=True)
async def remove_old_jobs(context: JobContext, timestamp: int) -> None:
    await builtin_tasks.remove_old_jobs(
        context, max_hours=7 * 24, remove_failed=True, remove_cancelled=True, remove_aborted=True
    )


@app.periodic(cron="*/15 * * * *")
@app.task(queue="periodic")
def check_lead_flow(timestamp: int) -> None:
    try:
        call_command("check_lead_flow", window_minutes=15)
    except CommandError as alert:
        # The command exits non-zero for a shell or a cron; here its email is the alert, and the job did its work.
        logger.warning("%s", alert)


@app.periodic(cron="0 21 * * *")  # 02:30 IST, before the day's leads
@app.task(queue="periodic")
def prune_deliveries(timestamp: int) -> None:
    call_command("prune_deliveries", older_than_days=settings.LEAD_PRUNE_AFTER_DAYS)
