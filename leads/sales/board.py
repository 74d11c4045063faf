"""The managers' team board: per salesperson, on duty or not, and their open, due, overdue and untouched leads.

One grouped query over the open leads counts every figure for everyone at once (served by lead_status_idx and
lead_awaiting_contact_idx); the people come from the Sales roles, so someone with no open lead still has a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Count, Q
from django.utils import timezone

from leads.common.business_time import business_minutes_ago
from leads.models import Lead
from leads.sales.assignment import CLOSED_STATUSES, on_duty_sales
from leads.sales.permissions import SALES_GROUP


def due_follow_ups(*, now: datetime) -> Q | None:
    """HOOK for "leads due" (issue 23 item 2): leads whose next follow-up time has come.

    Lead.next_follow_up_at is added on the salesperson's side (branch h23a); until it is here nothing can be
    due, and the board shows "-" for it. Once it lands this returns ``Q(next_follow_up_at__lte=now)``.
    """
    return None


@dataclass(frozen=True)
class BoardRow:
    user_id: int | None  # None: the open leads nobody has
    name: str
    on_duty: bool | None  # None for the unassigned row
    open: int
    due: int | None  # None while "due" cannot be counted (see due_follow_ups)
    overdue: int
    untouched: int


def team_board(*, now: datetime | None = None) -> list[BoardRow]:
    now = timezone.now() if now is None else now
    # The overdue rule's own threshold (LeadQuerySet.overdue), so the board and the Overdue badge agree.
    overdue_before = business_minutes_ago(settings.LEAD_FIRST_CONTACT_MINUTES, now=now)
    untouched = Q(status=Lead.Status.NEW, first_contacted_at__isnull=True)
    measures = {
        "open": Count("id"),
        "untouched": Count("id", filter=untouched),
        "overdue": Count("id", filter=untouched & Q(received_at__lt=overdue_before)),
    }
    due = due_follow_ups(now=now)
    if due is not None:
        measures["due"] = Count("id", filter=due)
    counts = {
        row["assignee_id"]: row
        for row in Lead.objects.real()
        .exclude(status__in=CLOSED_STATUSES)
        .values("assignee_id")
        .annotate(**measures)
        .order_by()
    }
    on_duty = set(on_duty_sales().values_list("pk", flat=True))
    people = User.objects.filter(Q(groups__name=SALES_GROUP, is_active=True) | Q(pk__in=[k for k in counts if k]))
    rows = [
        _row(user.pk, _label(user), user.pk in on_duty, counts.get(user.pk), due is not None)
        for user in people.distinct().order_by("username")
    ]
    if None in counts:
        rows.append(_row(None, "Unassigned", None, counts[None], due is not None))
    return rows


def _row(user_id: int | None, name: str, on_duty: bool | None, row: dict[str, int] | None, has_due: bool) -> BoardRow:
    row = row or {}
    return BoardRow(
        user_id=user_id,
        name=name,
        on_duty=on_duty,
        open=row.get("open", 0),
        due=row.get("due", 0) if has_due else None,
        overdue=row.get("overdue", 0),
        untouched=row.get("untouched", 0),
    )


def _label(user: User) -> str:
    full_name = user.get_full_name()
    return f"{full_name} ({user.username})" if full_name else user.username
