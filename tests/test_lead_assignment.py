"""A new lead is assigned in its own transaction: the buyer's salesperson, else round-robin among Sales on duty."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from devservers import free_port
from leads.intake.keys import api_key_create
from leads.models import AssignmentRotation, Lead, LeadEvent, SalesProfile
from leads.partners import CARDEKHO, CARWALE
from leads.sales import notifications
from leads.sales.assignment import ROUND_ROBIN_SEQUENCE
from leads.sales.permissions import MANAGERS_GROUP

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_job_queue")]


def round_robin_turns() -> int:
    with connection.cursor() as cursor:
        # The turns drawn so far: a sequence never drawn from holds its start value, not yet called.
        cursor.execute(f"SELECT last_value - (NOT is_called)::int FROM {ROUND_ROBIN_SEQUENCE}")  # noqa: S608 (a constant)
        return cursor.fetchone()[0]


def waiting_alerts() -> list[tuple[str, dict]]:
    """The new-lead alert jobs waiting to run: their queueing locks and arguments."""
    waiting = ProcrastinateJob.objects.filter(task_name="leads.tasks.alert_new_leads", status="todo").order_by("id")
    return list(waiting.values_list("queueing_lock", "args"))


def run_alert_jobs() -> None:
    """What the worker does with the waiting new-lead alert jobs."""
    for queueing_lock, args in waiting_alerts():
        notifications.new_leads_alert_send(user_id=args["user_id"], joined_under=queueing_lock)
    ProcrastinateJob.objects.filter(status="todo").update(status="succeeded")


def first_id(response) -> uuid.UUID:
    return uuid.UUID(response.json()["id"])


def buyer(n: int) -> dict[str, str]:
    return {"name": f"Buyer {n}", "phone_number": f"98765{n:05d}", "car_model": "MG Hector"}


def test_new_leads_go_round_robin_among_sales_on_duty(post_lead, make_salesperson):
    asha, bala, chitra = make_salesperson("asha"), make_salesperson("bala", on_duty=True), make_salesperson("chitra")

    ids = [post_lead(CARDEKHO, buyer(n)).json()["id"] for n in range(6)]

    assignees = [Lead.objects.get(public_id=i).assignee for i in ids]
    # Each takes the next turn, in order of user id; where the rotation starts depends on earlier leads.
    assert set(assignees[:3]) == {asha, bala, chitra}
    assert assignees[3:] == assignees[:3]
    first = Lead.objects.get(public_id=ids[0])
    expected = f"Assigned to {assignees[0].username} (round-robin)."
    assert list(first.events.values_list("kind", "text")) == [("assigned", expected)]
    # Each salesperson's leads wait on one alert job, which the first of them queued.
    assert waiting_alerts() == [(f"new-leads-alert:{user.pk}", {"user_id": user.pk}) for user in assignees[:3]]
    assert Lead.objects.filter(alert_pending=True).count() == 6


def test_off_duty_inactive_and_non_staff_sales_users_get_nothing(post_lead, make_salesperson):
    asha = make_salesperson("asha")
    make_salesperson("bala", on_duty=False)
    make_salesperson("chitra", is_active=False)
    make_salesperson("dev", is_staff=False)
    User.objects.create_user("eve", is_staff=True)  # staff, not in Sales

    post_lead(CARDEKHO, buyer(1))
    post_lead(CARDEKHO, buyer(2))

    assert set(Lead.objects.values_list("assignee__username", flat=True)) == {asha.username}


def test_a_buyer_with_an_open_lead_keeps_their_salesperson_on_either_platform(post_lead, make_lead, make_salesperson):
    make_salesperson("asha")
    bala = make_salesperson("bala")
    make_lead(platform="CarDekho", phone_number="9876500001", assignee=bala, status=Lead.Status.CONTACTED)
    turns_before = round_robin_turns()

    response = post_lead(CARWALE, {"customer_name": "Ravi", "mobile": "+91 98765 00001"})

    lead = Lead.objects.get(public_id=response.json()["id"])
    assert lead.assignee == bala
    assert lead.events.get().text == "Assigned to bala (the same buyer's open lead)."
    assert round_robin_turns() == turns_before  # nobody's turn was used


def test_a_buyer_whose_earlier_lead_is_closed_gets_the_next_turn(post_lead, make_lead, make_salesperson):
    on_duty = [make_salesperson("asha"), make_salesperson("bala")]
    make_lead(phone_number="9876500001", assignee=on_duty[1], status=Lead.Status.LOST)
    turns_before = round_robin_turns()

    response = post_lead(CARWALE, {"customer_name": "Ravi", "mobile": "9876500001"})

    # The sequence outlives each test's rollback, so whose turn it is depends on the tests before this one.
    turn = round_robin_turns()
    lead = Lead.objects.get(public_id=response.json()["id"])
    assert turn == turns_before + 1
    assert lead.assignee == on_duty[(turn - 1) % len(on_duty)]
    assert lead.events.get().text == f"Assigned to {lead.assignee.username} (round-robin)."


@pytest.fixture
def manager(roles) -> User:
    meera = User.objects.create_user("meera", email="meera@raamgroup.in", is_staff=True)
    meera.groups.add(Group.objects.get(name=MANAGERS_GROUP))
    return meera


def managers_alerts() -> list[str]:
    return [message.subject for message in mail.outbox if message.to == ["meera@raamgroup.in"]]


def test_with_nobody_on_duty_leads_stay_unassigned_and_managers_get_one_alert(post_lead, make_salesperson, manager):
    make_salesperson("asha", on_duty=False)

    ids = [post_lead(CARDEKHO, buyer(n)).json()["id"] for n in range(3)]
    leads = [Lead.objects.get(public_id=i) for i in ids]
    assert [lead.assignee for lead in leads] == [None, None, None]
    assert [lead.events.get().kind for lead in leads] == ["unassigned"] * 3
    assert waiting_alerts() == [("new-leads-alert:", {"user_id": None})]

    run_alert_jobs()

    assert managers_alerts() == ["[Raam CRM] Nobody in Sales is on duty: new leads stay unassigned"]
    assert AssignmentRotation.objects.get().unstaffed_alerted_at is not None
    # A manager can cover the buyer straight from the email.
    (alert,) = [message for message in mail.outbox if message.to == ["meera@raamgroup.in"]]
    digits = leads[0].phone_digits
    assert f"Call:     tel:+{digits}" in alert.body and f"WhatsApp: https://wa.me/{digits}" in alert.body


def test_an_assignee_without_an_email_address_is_alerted_through_the_managers(post_lead, make_salesperson, manager):
    make_salesperson("asha", email="")

    lead = Lead.objects.get(public_id=post_lead(CARDEKHO, buyer(1)).json()["id"])
    run_alert_jobs()

    (subject,) = managers_alerts()
    assert subject.startswith("[Raam CRM] For asha, who has no email address: New lead: ")
    assert "asha has no email address in Raam CRM" in mail.outbox[0].body
    assert f"/admin/leads/lead/{lead.pk}/change/" in mail.outbox[0].body
    assert lead.events.get(kind="alert_sent").text == (
        "asha has no email address; the new-lead alert was emailed to meera@raamgroup.in."
    )


def test_once_someone_is_on_duty_again_a_later_gap_alerts_the_managers_again(post_lead, make_salesperson, manager):
    asha = make_salesperson("asha", on_duty=False)
    post_lead(CARDEKHO, buyer(1))
    run_alert_jobs()
    SalesProfile.objects.filter(user=asha).update(on_duty=True)
    post_lead(CARDEKHO, buyer(2))
    SalesProfile.objects.filter(user=asha).update(on_duty=False)

    post_lead(CARDEKHO, buyer(3))
    run_alert_jobs()

    assert len(managers_alerts()) == 2
    assert Lead.objects.filter(assignee=asha).count() == 1


def test_a_failed_managers_alert_is_not_claimed_so_its_retry_sends_it(post_lead, make_salesperson, manager, settings):
    post_lead(CARDEKHO, buyer(1))
    ((queueing_lock, args),) = waiting_alerts()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there

    with pytest.raises(ConnectionRefusedError):
        notifications.new_leads_alert_send(user_id=args["user_id"], joined_under=queueing_lock)
    assert not AssignmentRotation.objects.filter(unstaffed_alerted_at__isnull=False).exists()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    notifications.new_leads_alert_send(user_id=args["user_id"], joined_under=queueing_lock)  # the retry

    assert len(managers_alerts()) == 1


def test_a_lead_assigned_by_hand_before_its_job_ran_does_not_alert_the_managers(post_lead, make_salesperson, manager):
    asha = make_salesperson("asha", on_duty=False)
    response = post_lead(CARDEKHO, buyer(1))
    Lead.objects.filter(public_id=response.json()["id"]).update(assignee=asha)

    run_alert_jobs()

    assert managers_alerts() == []


def test_test_leads_and_duplicates_are_never_assigned_or_alerted(post_lead, make_salesperson):
    asha = make_salesperson("asha")
    test_key = api_key_create(partner=CARDEKHO, label="staging", is_test=True)
    first = post_lead(CARDEKHO, buyer(1))

    duplicate = post_lead(CARDEKHO, buyer(1))
    test_lead = post_lead(CARDEKHO, buyer(2), key=test_key.secret)

    assert duplicate.json() == {**first.json(), "duplicate": True}
    assert Lead.objects.get(public_id=test_lead.json()["id"]).assignee is None
    assert LeadEvent.objects.filter(lead__is_test=True).count() == 0
    assert LeadEvent.objects.count() == 1
    assert waiting_alerts() == [(f"new-leads-alert:{asha.pk}", {"user_id": asha.pk})]
    assert list(Lead.objects.filter(alert_pending=True).values_list("public_id", flat=True)) == [first_id(first)]


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_leads_over_three_people_differ_by_at_most_one(post_leads_at_once, make_salesperson):
    for name in ("asha", "bala", "chitra"):
        make_salesperson(name)

    results = post_leads_at_once(CARDEKHO, [buyer(n) for n in range(50)])

    assert {status for status, _ in results} == {201}
    counts = Counter(Lead.objects.values_list("assignee__username", flat=True))
    assert sum(counts.values()) == 50 and set(counts) == {"asha", "bala", "chitra"}
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    assert len(waiting_alerts()) == 3
    assert Lead.objects.filter(alert_pending=True).count() == 50
