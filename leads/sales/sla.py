"""Speed to lead: first contact, the overdue alert to the Sales managers, and reassignment of untouched leads.

Which leads are overdue is ``Lead.objects.overdue()``'s to say (and ``due_for_reassignment()``'s); the
periodic job (leads.tasks) claims them here and defers the emails, in one transaction, so a claimed lead
always has its email job and the mail server's moods are the queue's to retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from leads import jobs
from leads.common.business_time import business_minutes_between
from leads.models import CallAttempt, Lead, LeadEvent
from leads.sales.assignment import next_turn, on_duty_sales

# At most this many leads per run of the periodic job; the rest wait for its next run.
BATCH = 200


# What records a lead's first contact: when, and how many business minutes after it arrived.
FIRST_CONTACT_FIELDS = ("first_contacted_at", "first_contact_business_minutes")


def first_contact(*, received_at: datetime, at: datetime) -> dict[str, Any]:
    """FIRST_CONTACT_FIELDS' values for a lead received at ``received_at`` and first contacted at ``at``."""
    return dict(zip(FIRST_CONTACT_FIELDS, (at, business_minutes_between(received_at, at)), strict=True))


def lead_called(
    *,
    lead: Lead,
    actor: Any,
    outcome: str = CallAttempt.Outcome.TAPPED,
    channel: str = CallAttempt.Channel.PHONE,
    now: datetime | None = None,
) -> bool:
    """Record one call attempt (a CallAttempt row and a timeline line); the first attempt also sets
    ``first_contacted_at``, the speed-to-lead measure, and the first "connected" one ``first_connected_at``,
    the first conversation. "Wrong number" flags the lead.

    Returns whether this was the lead's first contact. Conditional UPDATEs, so two clicks at once
    (or a click beside a status change) set each once.
    """
    now = now or timezone.now()
    with transaction.atomic():
        not_yet = Lead.objects.filter(pk=lead.pk, first_contacted_at__isnull=True)
        first = bool(not_yet.update(**first_contact(received_at=lead.received_at, at=now)))
        if outcome == CallAttempt.Outcome.CONNECTED:
            Lead.objects.filter(pk=lead.pk, first_connected_at__isnull=True).update(first_connected_at=now)
        if outcome == CallAttempt.Outcome.WRONG_NUMBER:
            Lead.objects.filter(pk=lead.pk).update(wrong_number=True)
        CallAttempt.objects.create(lead=lead, at=now, by=actor, outcome=outcome, channel=channel)
        what = "Opened WhatsApp to the buyer" if channel == CallAttempt.Channel.WHATSAPP else "Called the buyer"
        result = "" if outcome == CallAttempt.Outcome.TAPPED else f": {CallAttempt.Outcome(outcome).label.lower()}"
        LeadEvent.objects.create(
            lead=lead,
            at=now,
            kind=LeadEvent.Kind.CALLED,
            actor=actor,
            text=f"{what}{result}{' (first contact)' if first else ''}.",
        )
    return first


def follow_ups_alert(*, now: datetime | None = None) -> int:
    """Claim the follow-ups come due whose salesperson was not told about that due time, and queue each one's
    email. The claim (``follow_up_alerted_for``, under the row lock) makes it exactly once per due time: a
    follow-up moved to a new time is told again at that time."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Lead.objects.follow_ups_to_alert(now=now)
            .order_by("next_follow_up_at")
            .select_for_update(skip_locked=True)
            .only("pk", "next_follow_up_at", "assignee_id")[:BATCH]
        )
        for lead in due:
            Lead.objects.filter(pk=lead.pk).update(follow_up_alerted_for=lead.next_follow_up_at)
            assert lead.next_follow_up_at is not None  # follow_ups_to_alert's leads have one
            jobs.defer(
                jobs.ALERT_FOLLOW_UP,
                lead_id=lead.pk,
                user_id=lead.assignee_id,
                due_at=lead.next_follow_up_at.isoformat(),
            )
    return len(due)


@dataclass(frozen=True)
class Escalated:
    alerted: int
    reassigned: int


def overdue_leads_escalate(*, now: datetime | None = None) -> Escalated:
    """The periodic job's work: alert the managers about newly overdue leads, then reassign the stale ones."""
    now = now or timezone.now()
    return Escalated(alerted=overdue_leads_alert(now=now), reassigned=stale_leads_reassign(now=now))


def overdue_leads_alert(*, now: datetime) -> int:
    """Claim the overdue leads the managers have not heard about and queue one email about them."""
    with transaction.atomic():
        claimed = list(
            Lead.objects.overdue(now=now)
            .filter(overdue_alerted_at__isnull=True)
            .order_by("received_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:BATCH]
        )
        if claimed:
            Lead.objects.filter(pk__in=claimed).update(overdue_alerted_at=now)
            jobs.defer(jobs.ALERT_OVERDUE, lead_ids=claimed)
    return len(claimed)


def overdue_alert_release(lead_ids: list[int]) -> None:
    """Hand claimed leads back to ``overdue_leads_alert``: their alert reached nobody, so they are not alerted."""
    Lead.objects.filter(pk__in=lead_ids).update(overdue_alerted_at=None)


def stale_leads_reassign(*, now: datetime) -> int:
    """Give each lead past LEAD_REASSIGN_AFTER_MINUTES to the next person on duty, and queue word to both."""
    moved = 0
    with transaction.atomic():
        stale = list(
            Lead.objects.due_for_reassignment(now=now)
            .select_related("assignee")
            .order_by("received_at")
            .select_for_update(of=("self",), skip_locked=True)[:BATCH]
        )
        on_duty = list(on_duty_sales())
        for lead in stale:
            candidates = [user for user in on_duty if user.pk != lead.assignee_id]
            if not candidates:
                continue
            previous = lead.assignee
            lead.assignee = next_turn(candidates)
            lead_handed_over(lead, previous_id=previous.pk if previous else None, at=now)
            lead.save(update_fields=["assignee", *HANDOVER_FIELDS])
            LeadEvent.objects.create(
                lead=lead,
                at=now,
                kind=LeadEvent.Kind.REASSIGNED,
                text=f"Reassigned from {_name(previous)} to {_name(lead.assignee)}: no first contact in time.",
            )
            moved += 1
    return moved


# The fields lead_handed_over sets, for the caller's save.
HANDOVER_FIELDS = ("reassigned_at", "alert_pending")


def lead_handed_over(lead: Lead, *, previous_id: int | None, at: datetime, by: Any = None) -> None:
    """What a lead changing hands brings, by the SLA's reassignment or on the lead page (``by`` someone):
    its first-contact clock restarts, its new-lead alert still waiting is dropped, and its new assignee and
    the previous one are emailed, unless they made the change themselves. Sets ``HANDOVER_FIELDS`` on
    ``lead`` and queues the emails; the caller saves the lead in the same transaction."""
    lead.reassigned_at = at
    lead.alert_pending = False  # the new assignee's alert is queued here, not with a new-leads job
    by_id = getattr(by, "pk", None)
    if lead.assignee_id is not None and lead.assignee_id != by_id:
        jobs.defer(jobs.ALERT_ASSIGNEE, lead_id=lead.pk, user_id=lead.assignee_id)
    if previous_id is not None and previous_id != by_id:
        handed_by = by.get_username() if by is not None else ""
        jobs.defer(jobs.ALERT_PREVIOUS_ASSIGNEE, lead_id=lead.pk, user_id=previous_id, handed_by=handed_by)


def _name(user: User | None) -> str:
    return user.get_username() if user is not None else "nobody"
