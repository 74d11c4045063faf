"""Background jobs, on procrastinate's PostgreSQL queue (its Django integration discovers this module).

A new lead's alert is queued by leads.ingest's statement, in the lead's own transaction, so a committed lead always
has its job and a rolled-back one never does. The periodic jobs replace the cron services that ran
``check_lead_flow`` and ``prune_deliveries``; both commands still work from a shell.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from leads import notifications, sla

# A mail server that is down is tried again after 2, 4, 8 … 512 s: about 17 minutes in all.
MAIL_RETRY = RetryStrategy(max_attempts=10, exponential_wait=2)


@app.task(queue="alerts", retry=MAIL_RETRY)
def alert_new_lead(*, lead_id: int) -> None:
    notifications.new_lead_alert_send(lead_id=lead_id)


@app.task(queue="alerts", retry=MAIL_RETRY)
def alert_assignee(*, lead_id: int) -> None:
    notifications.assignee_alert_send(lead_id=lead_id)


# Queued by releases before alert_new_lead, each already claimed; kept until no such job is left.
@app.task(queue="alerts", retry=MAIL_RETRY)
def alert_nobody_on_duty(*, lead_id: int) -> None:
    notifications.nobody_on_duty_alert_send(lead_id=lead_id)


@app.task(queue="alerts", retry=MAIL_RETRY)
def alert_overdue(*, lead_ids: list[int]) -> None:
    notifications.overdue_alert_send(lead_ids=lead_ids)


@app.task(queue="alerts", retry=MAIL_RETRY)
def alert_previous_assignee(*, lead_id: int, user_id: int) -> None:
    notifications.previous_assignee_alert_send(lead_id=lead_id, user_id=user_id)


# Speed to lead (leads.sla): a lead is at most five minutes late for its overdue alert or its reassignment.
@app.periodic(cron="*/5 * * * *")
@app.task(queue="periodic")
def escalate_overdue_leads(timestamp: int) -> None:
    sla.overdue_leads_escalate()


@app.periodic(cron="*/15 * * * *")
@app.task(queue="periodic")
def check_lead_flow(timestamp: int) -> None:
    call_command("check_lead_flow", window_minutes=15)


@app.periodic(cron="0 21 * * *")  # 02:30 IST, before the day's leads
@app.task(queue="periodic")
def prune_deliveries(timestamp: int) -> None:
    call_command("prune_deliveries", older_than_days=settings.LEAD_PRUNE_AFTER_DAYS)
