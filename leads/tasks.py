"""Background jobs, on procrastinate's PostgreSQL queue (its Django integration discovers this module).

Each task is thin: it calls one service. Services queue jobs by name through leads.jobs, in their own
transaction, and never import this module. A new lead's alert job is queued with the lead (or the lead joins
its recipient's job already waiting: leads.sales.alerts), so a committed lead has a job to send it and a
rolled-back one leaves none; ``requeue_pending_alerts`` covers a lead whose job no longer will. The periodic
jobs replace the cron services that ran ``check_lead_flow`` and ``prune_deliveries``; both commands still work
from a shell.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from procrastinate import JobContext, RetryStrategy, builtin_tasks
from procrastinate.contrib.django import app

from leads import jobs
from leads.models import Lead
from leads.reporting import snapshots
from leads.sales import notifications, sla
from leads.sales.alerts import new_leads_alert_queue

logger = logging.getLogger(__name__)

# Longer than any alert job takes to come round, even under a burst (bench/RESULTS.md).
PENDING_ALERT_GRACE = timedelta(minutes=2)
# A mail server that is down is tried again after 2, 4, 8 … 1,024 s: about 34 minutes in all.
MAIL_RETRY = RetryStrategy(max_attempts=10, exponential_wait=2)


@app.task(name=jobs.ALERT_NEW_LEADS, queue="alerts", pass_context=True)
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
            with transaction.atomic():
                new_leads_alert_queue(user_id=user_id, attempt=attempt + 1, schedule_at=retry.retry_at)
        raise


@app.task(name=jobs.ALERT_ASSIGNEE, queue="alerts", retry=MAIL_RETRY)
def alert_assignee(*, lead_id: int, user_id: int | None = None) -> None:
    notifications.assignee_alert_send(lead_id=lead_id, user_id=user_id)


# Queued by releases before alert_new_leads, each already claimed; kept until no such job is left.
@app.task(queue="alerts", retry=MAIL_RETRY)
def alert_nobody_on_duty(*, lead_id: int) -> None:
    notifications.nobody_on_duty_alert_send(lead_id=lead_id)


@app.task(name=jobs.ALERT_OVERDUE, queue="alerts", retry=MAIL_RETRY, pass_context=True)
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


@app.task(name=jobs.ALERT_PREVIOUS_ASSIGNEE, queue="alerts", retry=MAIL_RETRY)
def alert_previous_assignee(*, lead_id: int, user_id: int, handed_by: str = "") -> None:
    notifications.previous_assignee_alert_send(lead_id=lead_id, user_id=user_id, handed_by=handed_by)


@app.task(name=jobs.ALERT_FOLLOW_UP, queue="alerts", retry=MAIL_RETRY)
def alert_follow_up(*, lead_id: int, user_id: int, due_at: str) -> None:
    notifications.follow_up_alert_send(lead_id=lead_id, user_id=user_id, due_at=due_at)


# A salesperson hears of a follow-up within a minute of its time.
@app.periodic(cron="* * * * *")
@app.task(queue="periodic")
def alert_due_follow_ups(timestamp: int) -> None:
    sla.follow_ups_alert()


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
        with transaction.atomic():
            new_leads_alert_queue(user_id=user_id)  # or one is waiting already


# Finished jobs (and their events) go after a week, failed ones too: a failed alert's leads are still pending,
# and requeue_pending_alerts gives them a new job.
@app.periodic(cron="30 21 * * *")  # 03:00 IST
@app.task(queue="periodic", pass_context=True)
async def remove_old_jobs(context: JobContext, timestamp: int) -> None:
    await builtin_tasks.remove_old_jobs(
        context, max_hours=7 * 24, remove_failed=True, remove_cancelled=True, remove_aborted=True
    )


# The long ranges the managers' report links to (a year's takes over a second to work out) are read from snapshots.
@app.periodic(cron=f"*/{snapshots.REFRESH_MINUTES} * * * *")
@app.task(queue="periodic")
def refresh_report_snapshots(timestamp: int) -> None:
    snapshots.preset_reports_refresh(timezone.localdate())


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
