"""The managers' team board: per salesperson, on duty or not, and their open, due, overdue and untouched leads.

One grouped query over the open leads counts every figure for everyone at once (served by lead_status_idx and
lead_awaiting_contact_idx); the people come from the Sales roles, so someone with no open lead still has a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Count, Q
from django.utils import timezone

from leads.models import Lead
from leads.models.lead import awaiting_first_contact_q, follow_up_due_q, overdue_q
from leads.sales.assignment import CLOSED_STATUSES, on_duty_sales
from leads.sales.permissions import SALES_GROUP


@dataclass(frozen=True)
class BoardRow:
    user_id: int | None  # None: the open leads nobody has
    name: str
    on_duty: bool | None  # None for the unassigned row
    open: int
    due: int  # follow-ups to make today, late ones included
    overdue: int
    untouched: int


def team_board(*, now: datetime | None = None) -> list[BoardRow]:
    now = timezone.now() if now is None else now
    # The lead list's own rules (leads.models.lead), so the board, the Overdue badge and the filters agree.
    measures = {
        "open": Count("id"),
        "due": Count("id", filter=follow_up_due_q(now=now)),
        "untouched": Count("id", filter=awaiting_first_contact_q()),
        "overdue": Count("id", filter=overdue_q(now=now)),
    }
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
        _row(user.pk, _label(user), user.pk in on_duty, counts.get(user.pk))
        for user in people.distinct().order_by("username")
    ]
    if None in counts:
        rows.append(_row(None, "Unassigned", None, counts[None]))
    return rows


def _row(user_id: int | None, name: str, on_duty: bool | None, row: dict[str, int] | None) -> BoardRow:
    row = row or {}
    return BoardRow(
        user_id=user_id,
        name=name,
        on_duty=on_duty,
        open=row.get("open", 0),
        due=row.get("due", 0),
        overdue=row.get("overdue", 0),
        untouched=row.get("untouched", 0),
    )


def _label(user: User) -> str:
    full_name = user.get_full_name()
    return f"{full_name} ({user.username})" if full_name else user.username
