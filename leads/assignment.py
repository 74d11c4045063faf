"""Who works a new lead: the buyer's salesperson if they have an open lead, else the next person on duty."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection
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


def lead_assign_new(*, lead: Lead) -> int | None:
    """Assign a just-stored real lead and queue its alert, in the caller's transaction (the lead's own).

    Returns the assignee's id, or None when nobody is on duty: then the lead stays unassigned and the
    Sales managers are alerted, once until a lead is assigned again.
    """
    from leads import tasks  # the queue's tasks import this module's callers

    assignee, reason = _open_lead_owner(lead), "the same buyer's open lead"
    if assignee is None:
        on_duty = list(on_duty_sales().values_list("pk", "username"))
        if not on_duty:
            _leave_unassigned(lead)
            return None
        assignee, reason = on_duty[(_next_turn() - 1) % len(on_duty)], "round-robin"
    assignee_id, username = assignee
    Lead.objects.filter(pk=lead.pk).update(assignee_id=assignee_id)
    lead.assignee_id = assignee_id
    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.ASSIGNED, text=f"Assigned to {username} ({reason}).")
    tasks.alert_assignee.defer(lead_id=lead.pk)
    return assignee_id


def _open_lead_owner(lead: Lead) -> tuple[int, str] | None:
    """The assignee of this buyer's newest open lead on either platform, so a buyer keeps one salesperson."""
    if not lead.phone_digits:
        return None
    owner: tuple[int, str] | None = (
        Lead.objects.real()
        .filter(phone_digits=lead.phone_digits, assignee__is_active=True)
        .exclude(pk=lead.pk)
        .exclude(status__in=CLOSED_STATUSES)
        .order_by("-received_at")
        .values_list("assignee_id", "assignee__username")
        .first()
    )
    return owner


def _next_turn() -> int:
    """The next round-robin turn. Concurrent leads each draw a different one and nobody waits: a sequence
    hands out numbers outside transactions and takes no lock (a locked rotation row would make every new
    lead, on every worker, wait for the one before it to commit). A rolled-back lead skips a turn."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [ROUND_ROBIN_SEQUENCE])
        turn: int = cursor.fetchone()[0]
    return turn


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
