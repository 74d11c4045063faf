"""Who works a new lead: the buyer's salesperson if they have an open lead, else the next person on duty."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from leads.models import AssignmentRotation, Lead, LeadEvent

# Created by migration 0009; numbers the round-robin turns.
ROUND_ROBIN_SEQUENCE = "leads_round_robin_turn"
SALES_GROUP = "Sales"
MANAGERS_GROUP = "Sales managers"
# A buyer stops being "open" with these; their next enquiry is a fresh round-robin turn.
CLOSED_STATUSES = (Lead.Status.BOOKED, Lead.Status.LOST)


def on_duty_sales() -> QuerySet[User]:
    """Active staff in the Sales group whose switch is on (no profile yet: on, the default)."""
    users: type[User] = get_user_model()
    return (
        users.objects.filter(is_active=True, is_staff=True, groups__name=SALES_GROUP)
        .filter(Q(sales_profile__isnull=True) | Q(sales_profile__on_duty=True))
        .order_by("pk")
    )


def open_lead_owners(*, phone_digits: Any) -> QuerySet[Lead]:
    """This buyer's open leads with an active salesperson, on either platform, newest first.

    A buyer keeps one salesperson: leads.ingest assigns a new lead to the first one's assignee.
    """
    return (
        Lead.objects.real()
        .filter(phone_digits=phone_digits, assignee__is_active=True)
        .exclude(phone_digits="")
        .exclude(status__in=CLOSED_STATUSES)
        .order_by("-received_at")
    )


def lead_assignment_record(*, lead: Lead, assignee: str, kept: bool) -> None:
    """Put a new real lead's assignment on its timeline and queue its alert, in the lead's own transaction.

    The assignee itself was chosen as the lead was stored (leads.ingest compiles ``open_lead_owners`` and
    ``on_duty_sales`` into its statement, with a turn from ROUND_ROBIN_SEQUENCE): the buyer's salesperson
    if they have an open lead, else the next person on duty. With nobody on duty the lead stays
    unassigned and the Sales managers are alerted, once until a lead is assigned again.
    """
    from leads import tasks  # the queue's tasks import this module's callers

    if not assignee:
        _leave_unassigned(lead)
        return
    reason = "the same buyer's open lead" if kept else "round-robin"
    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.ASSIGNED, text=f"Assigned to {assignee} ({reason}).")
    tasks.alert_assignee.defer(lead_id=lead.pk)


def _leave_unassigned(lead: Lead) -> None:
    from leads import tasks

    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.UNASSIGNED, text="Nobody in Sales was on duty.")
    # The managers hear it once per gap: the first unassigned lead since a lead was last assigned claims
    # the alert. A conditional UPDATE, so nobody waits on the row once the alert is claimed.
    assigned_since = Lead.objects.filter(assignee__isnull=False, received_at__gt=OuterRef("unstaffed_alerted_at"))
    AssignmentRotation.objects.get_or_create(pk=AssignmentRotation.SINGLETON)
    claimed = AssignmentRotation.objects.filter(
        Q(unstaffed_alerted_at__isnull=True) | Exists(assigned_since), pk=AssignmentRotation.SINGLETON
    ).update(unstaffed_alerted_at=timezone.now())
    if claimed:
        tasks.alert_nobody_on_duty.defer(lead_id=lead.pk)
