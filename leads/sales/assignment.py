"""Who works a new lead: the buyer's salesperson if they have an open lead, else the next person on duty."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from leads.models import AssignmentRotation, Lead, LeadEvent
from leads.sales.alerts import new_leads_alert_queue
from leads.sales.permissions import SALES_GROUP

# Created by migration 0009; numbers the round-robin turns.
ROUND_ROBIN_SEQUENCE = "leads_round_robin_turn"
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

    A buyer keeps one salesperson: a new lead goes to the first one's assignee (``assignee_choose``).
    """
    return (
        Lead.objects.real()
        .filter(phone_digits=phone_digits, assignee__is_active=True)
        .exclude(phone_digits="")
        .exclude(status__in=CLOSED_STATUSES)
        .order_by("-received_at")
    )


@dataclass(frozen=True)
class Assignment:
    """Who a new lead goes to, and why: the buyer's salesperson, the next turn, or nobody on duty."""

    user: User | None
    kept: bool = False  # the buyer's open lead's salesperson, rather than a turn

    @property
    def timeline_text(self) -> str:
        if self.user is None:
            return "Nobody in Sales was on duty."
        reason = "the same buyer's open lead" if self.kept else "round-robin"
        return f"Assigned to {self.user.get_username()} ({reason})."


def next_turn(candidates: Sequence[User]) -> User:
    """The next of ``candidates`` (in a stable order) by the one rotation, which new leads and reassignments
    share, so each salesperson's turns come round fairly whichever way leads reach them. The turns are
    numbered by a PostgreSQL sequence (migration 0009): concurrent leads never draw the same number."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [ROUND_ROBIN_SEQUENCE])
        (turn,) = cursor.fetchone()
    return candidates[(int(turn) - 1) % len(candidates)]


def assignee_choose(*, phone_digits: str) -> Assignment:
    """Who works a new real lead: the buyer's salesperson if they have an open lead, else the next on duty."""
    owner = open_lead_owners(phone_digits=phone_digits).select_related("assignee").first()
    if owner is not None and owner.assignee is not None:
        return Assignment(user=owner.assignee, kept=True)
    on_duty = list(on_duty_sales())
    return Assignment(user=next_turn(on_duty) if on_duty else None)


def new_lead_assigned(*, lead: Lead, assignment: Assignment) -> None:
    """What a new real lead's assignment brings, in the caller's transaction: the line on its timeline that
    says who has it and why, and the alert job that tells them (or the Sales managers, with nobody on duty)."""
    kind = LeadEvent.Kind.UNASSIGNED if assignment.user is None else LeadEvent.Kind.ASSIGNED
    LeadEvent.objects.create(lead=lead, kind=kind, text=assignment.timeline_text)
    new_leads_alert_queue(user_id=lead.assignee_id)


def nobody_on_duty_alert_claim() -> bool:
    """Whether to tell the Sales managers now that nobody is on duty (leads.sales.notifications).

    They hear it once per gap: the first alert since a lead was last assigned claims it. A conditional
    UPDATE, so of two alert jobs running at once only one claims it; the caller sends in the same
    transaction, so a failed send gives the claim back (and the other waits for it meanwhile).
    """
    assigned_since = Lead.objects.filter(assignee__isnull=False, received_at__gt=OuterRef("unstaffed_alerted_at"))
    AssignmentRotation.objects.get_or_create(pk=AssignmentRotation.SINGLETON)
    claimed = AssignmentRotation.objects.filter(
        Q(unstaffed_alerted_at__isnull=True) | Exists(assigned_since), pk=AssignmentRotation.SINGLETON
    ).update(unstaffed_alerted_at=timezone.now())
    return bool(claimed)
