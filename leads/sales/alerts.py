"""The new-leads alert's queue: one job waits per recipient, and each new lead joins it.

A new lead queues its recipient's job, or joins the one already waiting, whose run mails every pending lead
of that recipient (leads.sales.notifications.new_leads_alert_send). A lead that joins while the worker is
taking the job may still be committing, so it holds a shared lock under the job's queueing lock until it
commits, and the run takes that lock exclusively first: it waits for every lead that joined it.
"""

from __future__ import annotations

from datetime import datetime

from leads import jobs
from leads.common import db_locks

# A recipient's alert job waits under this queueing lock and their id (none: the Sales managers).
NEW_LEADS_ALERT_LOCK = "new-leads-alert:"


def new_leads_alert_lock(user_id: int | None) -> str:
    return NEW_LEADS_ALERT_LOCK + ("" if user_id is None else str(user_id))


def new_leads_alert_queue(*, user_id: int | None, attempt: int = 0, schedule_at: datetime | None = None) -> bool:
    """Queue ``user_id``'s alert job in the caller's transaction, or join the one waiting (False)."""
    lock = new_leads_alert_lock(user_id)
    db_locks.advisory_lock(lock, shared=True)
    retry = {"attempt": attempt} if attempt else {}  # a first try's job names only its recipient
    return jobs.defer(jobs.ALERT_NEW_LEADS, queueing_lock=lock, schedule_at=schedule_at, user_id=user_id, **retry)
