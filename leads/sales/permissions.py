"""Who is who in Sales, in one place: the two roles, and what each may do with a lead.

The roles are groups (``setup_roles`` gives each exactly its permissions). What a role may do is read from
the permissions, never from a group's name, so a superuser, who holds every permission, may do anything a
manager may; the groups are read by name only to list their members (who is on duty, who is emailed).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission, User
from django.db.models import Q, QuerySet

from leads.models import Lead

SALES_GROUP = "Sales"
MANAGERS_GROUP = "Sales managers"
# What each role may do (setup_roles grants exactly these; neither sees API keys or the delivery ledger).
ROLE_PERMISSIONS = {
    SALES_GROUP: ("view_lead", "change_lead"),
    MANAGERS_GROUP: ("view_lead", "change_lead", "reassign_lead", "export_lead"),
}
# The permission that makes a Sales manager.
MANAGES = f"{Lead._meta.app_label}.reassign_lead"
# The permission to download leads as CSV: the most personal data one person can take away at once.
EXPORTS = f"{Lead._meta.app_label}.export_lead"


def is_manager(user: Any) -> bool:
    """A Sales manager (or a superuser): may move a lead someone already has or hand one to a colleague, sees the
    reports, and switches anyone's duty. Everyone else in Sales works their own leads and may take an unassigned
    one for themselves."""
    return bool(getattr(user, "is_active", False) and user.has_perm(MANAGES))


def may_export(user: Any) -> bool:
    """May export leads (Sales managers, superusers): so may, and by default must, sign in with a second factor."""
    return bool(getattr(user, "is_active", False) and user.has_perm(EXPORTS))


def is_salesperson(user: Any) -> bool:
    """In Sales, working their own leads: a member of the Sales group who is no manager."""
    return (
        isinstance(user, User)
        and user.is_active
        and not is_manager(user)
        and user.groups.filter(name=SALES_GROUP).exists()
    )


def managers() -> QuerySet[User]:
    """The people given the Sales manager role (through its group or by hand): those the managers' emails go to.
    Superusers are not among them by their superpower alone."""
    app_label, codename = MANAGES.split(".")
    granted = Q(codename=codename, content_type__app_label=app_label)
    users: type[User] = get_user_model()
    permission = Permission.objects.filter(granted)
    return users.objects.filter(
        Q(groups__permissions__in=permission) | Q(user_permissions__in=permission), is_active=True
    ).distinct()


def may_work_on(user: Any, lead: Lead) -> bool:
    """Whether ``user`` may change ``lead`` (its status, notes, first contact): their own, an unassigned one, or
    any for a manager."""
    return lead.assignee_id in (None, user.pk) or is_manager(user)


def takes_by_working(user: Any, lead: Lead) -> bool:
    """Whether ``user`` working ``lead`` (a call, a status or a note) takes it: a salesperson on a real lead nobody
    has, so that the call, the outcome and the report's figures have an owner. Managers' work takes nothing."""
    return lead.assignee_id is None and not lead.is_test and not is_manager(user)
