"""setup_roles creates exactly the Sales and Sales managers permissions, and is safe to rerun."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def perms(name: str) -> set[str]:
    return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))


def test_groups_get_exactly_their_permissions():
    out = StringIO()

    call_command("setup_roles", stdout=out)

    assert perms("Sales") == {"view_lead", "change_lead"}
    assert perms("Sales managers") == {"view_lead", "change_lead", "reassign_lead", "export_lead"}
    assert out.getvalue().startswith("Roles ready: Sales (created")


def test_running_twice_is_harmless_and_resets_drift():
    call_command("setup_roles", stdout=StringIO())
    Group.objects.get(name="Sales").permissions.add(Permission.objects.get(codename="view_delivery"))

    call_command("setup_roles", stdout=StringIO())

    assert Group.objects.filter(name__in=["Sales", "Sales managers"]).count() == 2
    assert perms("Sales") == {"view_lead", "change_lead"}
