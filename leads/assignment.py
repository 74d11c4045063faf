"""Who works a new lead: the buyer's salesperson if they have an open lead, else the next person on duty."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.utils import timezone

from leads.models import AssignmentRotation, Lead, LeadEvent

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

    # Concurrent leads take turns on this row, so the rotation stays fair (counts differ by at most one).
    # It is taken before the same-buyer lookup, so that lookup sees a lead committed just before ours.
    rotation, _ = AssignmentRotation.objects.select_for_update().get_or_create(pk=1)
    assignee, reason = _open_lead_owner(lead), "the same buyer's open lead"
    if assignee is None:
        on_duty = list(on_duty_sales().values_list("pk", "username"))
        if not on_duty:
            _leave_unassigned(lead, rotation)
            return None
        last = rotation.last_assignee_id
        assignee = next((user for user in on_duty if last is not None and user[0] > last), on_duty[0])
        rotation.last_assignee_id, reason = assignee[0], "round-robin"
    assignee_id, username = assignee
    rotation.unstaffed_alerted_at = None
    rotation.save(update_fields=["last_assignee", "unstaffed_alerted_at"])
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


def _leave_unassigned(lead: Lead, rotation: AssignmentRotation) -> None:
    from leads import tasks

    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.UNASSIGNED, text="Nobody in Sales was on duty.")
    if rotation.unstaffed_alerted_at is None:
        rotation.unstaffed_alerted_at = timezone.now()
        rotation.save(update_fields=["unstaffed_alerted_at"])
        tasks.alert_nobody_on_duty.defer(lead_id=lead.pk)
