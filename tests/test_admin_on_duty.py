"""The on-duty switch in the admin: a salesperson flips their own, a Sales manager anyone's."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from leads.models import SalesProfile

pytestmark = pytest.mark.django_db

URL = "/admin/leads/salesprofile/"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def colleague(roles) -> User:
    user = User.objects.create_user("bala", is_staff=True)
    user.groups.add(Group.objects.get(name="Sales"))
    return user


def test_the_list_gives_every_sales_user_a_switch_that_starts_on(manager_client, sales_user, colleague):
    response = manager_client.get(URL)

    assert response.status_code == 200
    assert set(SalesProfile.objects.values_list("user__username", "on_duty")) == {
        ("sam-sales", True),
        ("bala", True),
    }


def test_a_salesperson_switches_themselves_off_duty(sales_client, sales_user):
    sales_client.get(URL)
    profile = SalesProfile.objects.get(user=sales_user)

    response = sales_client.post(f"{URL}{profile.pk}/change/", {"on_duty": ""})

    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.on_duty is False


def test_a_salesperson_sees_and_changes_only_their_own_switch(sales_client, sales_user, colleague):
    sales_client.get(URL)
    theirs = SalesProfile.objects.get(user=colleague)

    listed = sales_client.get(URL)
    response = sales_client.post(f"{URL}{theirs.pk}/change/", {"on_duty": ""})

    assert "bala" not in listed.content.decode()
    assert response.status_code in (302, 403, 404)
    theirs.refresh_from_db()
    assert theirs.on_duty is True


def test_a_manager_switches_a_salesperson_off_duty(manager_client, colleague):
    manager_client.get(URL)
    profile = SalesProfile.objects.get(user=colleague)

    response = manager_client.post(f"{URL}{profile.pk}/change/", {"on_duty": ""})

    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.on_duty is False


def test_the_admin_calls_the_switches_what_they_are(sales_client):
    # Not "Sales profiles": a salesperson looking for how to go off duty finds it by name.
    assert "On-duty switches" in sales_client.get("/admin/").content.decode()
    assert "Select on-duty switch to change" in sales_client.get(URL).content.decode()
