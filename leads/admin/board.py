"""The Sales managers' team board (``/admin/board/``): who is on duty and how much each person has open, due,
overdue and untouched. Registered on the admin site like the reports (leads/admin/__init__.py). It refreshes
itself when a lead arrives or changes hands (leads/admin/live.py, leads/static/leads/live.js)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from leads.admin.filters import MyOpenLeadsFilter, OverdueFilter
from leads.reporting.views import can_see_reports
from leads.sales.board import BoardRow, team_board


def _list_link(row: BoardRow, **extra: str) -> str:
    """The lead list behind a figure: that person's (or nobody's) leads, every lead rather than the viewer's own."""
    query = {MyOpenLeadsFilter.parameter_name: MyOpenLeadsFilter.ALL, **extra}
    if row.user_id is None:
        query["assignee__isnull"] = "True"
    else:
        query["assignee__id__exact"] = str(row.user_id)
    return f"{reverse('admin:leads_lead_changelist')}?{urlencode(query)}"


def team_board_view(request: HttpRequest, *, site: AdminSite) -> HttpResponseBase:
    if not can_see_reports(request.user):  # the managers' screens have one rule for who sees them
        raise PermissionDenied
    rows = team_board()
    context: dict[str, Any] = {
        **site.each_context(request),
        "title": "Team board",
        "rows": [
            {
                "row": row,
                "open_url": _list_link(row),
                "overdue_url": _list_link(row, **{OverdueFilter.parameter_name: "overdue"}),
            }
            for row in rows
        ],
        "live_url": reverse("admin:leads_lead_live"),
    }
    # The live script asks for the board alone (?part=board) to swap it in when leads arrive or move.
    part = request.GET.get("part") == "board"
    template = "admin/leads/team_board_table.html" if part else "admin/leads/team_board.html"
    return TemplateResponse(request, template, context)


def board_urls(site: AdminSite) -> list[URLPattern]:
    return [path("board/", site.admin_view(lambda request: team_board_view(request, site=site)), name="team_board")]
