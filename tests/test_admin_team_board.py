"""The managers' team board: per salesperson, on duty or not, open, overdue and untouched leads; managers only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.common.days import day_start
from leads.models import Lead
from leads.sales.board import team_board

pytestmark = pytest.mark.django_db

BOARD = "/admin/board/"


def test_the_board_counts_each_salespersons_open_overdue_and_untouched_leads(make_salesperson, make_lead):
    asha = make_salesperson("asha", on_duty=True)
    bilal = make_salesperson("bilal", on_duty=False)
    make_salesperson("chitra")  # no leads, no switch: on duty, and still on the board
    long_ago = timezone.now() - timedelta(days=10)
    make_lead(assignee=asha, received_at=long_ago)  # untouched and overdue
    make_lead(assignee=asha)  # untouched, not overdue yet
    make_lead(assignee=asha, status=Lead.Status.CONTACTED, first_contacted_at=long_ago, received_at=long_ago)
    make_lead(assignee=asha, status=Lead.Status.BOOKED, first_contacted_at=long_ago, received_at=long_ago)  # closed
    make_lead(assignee=bilal, received_at=long_ago)
    make_lead(assignee=bilal, received_at=long_ago, is_test=True)  # a partner's test: nobody's work
    make_lead(received_at=long_ago)  # nobody has it

    rows = {row.name: row for row in team_board()}

    assert [(r.on_duty, r.open, r.overdue, r.untouched) for r in rows.values()] == [
        (True, 3, 1, 2),
        (False, 1, 1, 1),
        (True, 0, 0, 0),
        (None, 1, 1, 1),
    ]
    assert list(rows) == ["asha", "bilal", "chitra", "Unassigned"]


def test_the_board_counts_follow_ups_due_today_and_agrees_with_the_overdue_rule(make_salesperson, make_lead):
    asha = make_salesperson("asha", on_duty=True)
    now = day_start(timezone.localdate()) + timedelta(hours=12)  # midday IST: "later today" is still today
    long_ago = now - timedelta(days=10)
    contacted = {"status": Lead.Status.CONTACTED, "first_contacted_at": long_ago}
    make_lead(assignee=asha, next_follow_up_at=now - timedelta(hours=1), **contacted)  # late: due
    make_lead(assignee=asha, next_follow_up_at=now + timedelta(minutes=1), **contacted)  # later today: due
    make_lead(assignee=asha, next_follow_up_at=now + timedelta(days=2), **contacted)  # another day: not yet
    # Handed over just now: its new salesperson's clock starts at the hand-over, so it is not overdue (as on the list).
    make_lead(assignee=asha, received_at=long_ago, reassigned_at=now)

    [row] = team_board(now=now)

    assert (row.open, row.due, row.overdue, row.untouched) == (4, 2, 0, 1)
    assert row.overdue == Lead.objects.overdue(now=now).filter(assignee=asha).count()


def test_managers_see_the_board_and_salespeople_do_not(manager_client, sales_client, make_salesperson, make_lead):
    asha = make_salesperson("asha", first_name="Asha", last_name="Nair")
    make_lead(assignee=asha)

    page = manager_client.get(BOARD)

    assert page.status_code == 200
    html = page.content.decode()
    assert "Asha Nair (asha)" in html
    assert f"assignee__id__exact={asha.pk}" in html  # each figure opens that person's leads
    assert sales_client.get(BOARD).status_code == 403


def test_the_board_alone_is_served_for_the_live_refresh(manager_client, make_salesperson):
    make_salesperson("asha")

    part = manager_client.get(BOARD, {"part": "board"})

    assert part.status_code == 200
    assert part.content.decode().lstrip().startswith("<!--live--><table>")
