"""Live leads: the lead list and the team board learn of new and reassigned leads without a reload.

The page polls ``/admin/leads/lead/live/?since=<cursor>`` every second (leads/static/leads/live.js): short polling
of a small JSON answer works through any web server and proxy, holds no connection open in gunicorn's workers,
and costs one primary-key range read on the timeline. The answer lists the timeline lines that gave a lead an
assignee since the cursor; the page then fetches itself again and swaps in its list (or board), so every row is
rendered by the admin's own list, and notifies the user of a lead newly theirs.

Timeline ids come from a sequence, so a transaction that took an id earlier may commit later than one that took a
later id. The cursor therefore stays LAG behind the clock and the page drops lines it has already seen by id:
a late commit is still found, and nothing is announced twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone

from leads.models import LeadEvent
from leads.sales.permissions import is_manager
from leads.sales.repeat_buyers import repeat_buyer_ids

# The kinds of timeline line that give a lead an assignee (or, for a new lead nobody got, none).
ARRIVALS = (
    LeadEvent.Kind.ASSIGNED,
    LeadEvent.Kind.UNASSIGNED,
    LeadEvent.Kind.ASSIGNEE_CHANGED,
    LeadEvent.Kind.REASSIGNED,
)
LAG = timedelta(seconds=10)  # far longer than a lead's transaction: its lock timeout stops it before
MAX_LINES = 100


def live_cursor() -> int:
    """The last timeline line old enough that every line before it has committed (a short walk down the primary key)."""
    settled = LeadEvent.objects.filter(at__lt=timezone.now() - LAG).order_by("-id").values_list("id", flat=True)
    return settled.first() or 0


def live_view(request: HttpRequest) -> JsonResponse:
    """The lines since ``since`` (the first poll, without one: since the settled cursor, for the page to mark as
    seen or, newer than the page, to show) and the cursor to send next time."""
    cursor = live_cursor()
    try:
        since = min(max(0, int(request.GET.get("since", ""))), cursor)
    except ValueError:
        since = cursor
    lines = LeadEvent.objects.filter(id__gt=since, kind__in=ARRIVALS, lead__is_test=False)
    if not is_manager(request.user):  # a salesperson hears of their own leads; managers of everyone's
        lines = lines.filter(lead__assignee_id=request.user.pk)
    found = list(lines.select_related("lead").defer("lead__payload").order_by("id")[:MAX_LINES])
    if len(found) == MAX_LINES:  # a flood: take the rest next time rather than skip it
        cursor = min(cursor, found[-1].pk)
    repeat = repeat_buyer_ids(line.lead for line in found)
    leads = [_line(line, user_id=request.user.pk, repeat=line.lead_id in repeat) for line in found]
    return JsonResponse({"cursor": cursor, "leads": leads})


def _line(line: LeadEvent, *, user_id: int | None, repeat: bool) -> dict[str, Any]:
    lead = line.lead
    return {
        "event": line.pk,
        "at": line.at.timestamp(),
        "id": lead.pk,
        "name": lead.name,
        "car_model": lead.car_model,
        "platform": lead.platform,
        "mine": lead.assignee_id == user_id,
        "repeat_buyer": repeat,
        "url": reverse("admin:leads_lead_change", args=[lead.pk]),
    }
