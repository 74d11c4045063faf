"""The periodic escalation job: the Sales managers hear once about each overdue lead; stale leads change hands."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from leads import tasks
from leads.models import Lead, LeadEvent, SalesProfile
from leads.sales.sla import overdue_leads_escalate
from tests.jobs import run_queued_jobs

# A test that runs queued jobs is transactional: the worker sees only committed rows (tests/jobs.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_job_queue")]

MONDAY_0930 = timezone.make_aware(datetime(2026, 11, 30, 9, 30))
SATURDAY_1800 = timezone.make_aware(datetime(2026, 11, 28, 18, 0))


@pytest.fixture(autouse=True)
def _sla(settings) -> None:
    settings.LEAD_BUSINESS_HOURS = (9, 19)
    settings.LEAD_BUSINESS_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat"]
    settings.LEAD_FIRST_CONTACT_MINUTES = 15
    settings.LEAD_REASSIGN_AFTER_MINUTES = 0


def staff(username: str, group: str, *, on_duty: bool = True) -> User:
    user = User.objects.create_user(username, email=f"{username}@raamgroup.in", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    SalesProfile.objects.create(user=user, on_duty=on_duty)
    return user


def test_the_job_runs_every_five_minutes_in_the_worker():
    schedules = {task.task.name: task.cron for task in app.periodic_registry.periodic_tasks.values()}

    assert schedules["leads.tasks.escalate_overdue_leads"] == "*/5 * * * *"


@pytest.mark.django_db(transaction=True)
def test_managers_are_emailed_once_per_overdue_lead_and_never_about_test_leads(roles, make_lead):
    staff("meera", "Sales managers")
    late = make_lead(name="Late Lata", car_model="MG Hector", received_at=SATURDAY_1800)
    make_lead(name="Staging Sam", received_at=SATURDAY_1800, is_test=True)
    make_lead(name="Fresh Farah", received_at=MONDAY_0930)

    first = overdue_leads_escalate(now=MONDAY_0930)
    run_queued_jobs()
    again = overdue_leads_escalate(now=MONDAY_0930.replace(minute=40))
    run_queued_jobs()

    assert (first.alerted, again.alerted) == (1, 0)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["meera@raamgroup.in"]
    assert message.subject == "[Raam CRM] 1 lead not contacted within 15 business minutes"
    assert "Late Lata" in message.body and "MG Hector" in message.body
    assert f"/admin/leads/lead/{late.pk}/change/" in message.body
    assert "Staging Sam" not in message.body and "Fresh Farah" not in message.body
    late.refresh_from_db()
    assert late.overdue_alerted_at == MONDAY_0930
    assert list(late.events.values_list("kind", "text")) == [("overdue", "Overdue: emailed to meera@raamgroup.in.")]


@pytest.mark.django_db(transaction=True)
def test_with_nobody_to_email_the_overdue_leads_wait_for_the_first_manager_with_an_address(roles, make_lead, settings):
    # A new deployment: nobody has an address yet. Its first escalations must not be spent on no one.
    settings.ADMINS = []
    mona = User.objects.create_user("mona", is_staff=True)
    mona.groups.add(Group.objects.get(name="Sales managers"))
    late = make_lead(received_at=SATURDAY_1800)

    overdue_leads_escalate(now=MONDAY_0930)
    run_queued_jobs()

    assert mail.outbox == []
    late.refresh_from_db()
    assert late.overdue_alerted_at is None
    assert not late.events.exists()  # the timeline never claims an alert that reached nobody

    mona.email = "mona@raamgroup.in"
    mona.save()
    assert overdue_leads_escalate(now=MONDAY_0930.replace(minute=35)).alerted == 1
    run_queued_jobs()

    assert [message.to for message in mail.outbox] == [["mona@raamgroup.in"]]
    assert late.events.get().text == "Overdue: emailed to mona@raamgroup.in."


@pytest.mark.django_db(transaction=True)
def test_with_no_manager_address_the_site_admins_are_emailed_and_named(roles, make_lead, settings):
    settings.ADMINS = [("", "ops@raamgroup.in")]
    late = make_lead(received_at=SATURDAY_1800)

    overdue_leads_escalate(now=MONDAY_0930)
    run_queued_jobs()

    assert [message.to for message in mail.outbox] == [["ops@raamgroup.in"]]
    assert late.events.get().text == "Overdue: emailed to ops@raamgroup.in."


def test_a_contacted_lead_is_not_escalated(roles, make_lead):
    staff("meera", "Sales managers")
    make_lead(received_at=SATURDAY_1800, first_contacted_at=SATURDAY_1800)

    assert overdue_leads_escalate(now=MONDAY_0930).alerted == 0
    assert not ProcrastinateJob.objects.filter(task_name="leads.tasks.alert_overdue").exists()


def test_with_reassignment_off_an_overdue_lead_keeps_its_assignee(roles, make_lead):
    asha, _bala = staff("asha", "Sales"), staff("bala", "Sales")
    lead = make_lead(received_at=SATURDAY_1800, assignee=asha)

    assert overdue_leads_escalate(now=MONDAY_0930).reassigned == 0
    lead.refresh_from_db()
    assert lead.assignee == asha


@pytest.mark.django_db(transaction=True)
def test_past_the_reassign_minutes_the_lead_goes_to_the_next_on_duty_and_both_are_told(roles, make_lead, settings):
    settings.LEAD_REASSIGN_AFTER_MINUTES = 30
    asha, bala = staff("asha", "Sales"), staff("bala", "Sales")
    staff("off-duty-omar", "Sales", on_duty=False)
    # 60 + 30 business minutes; its new-lead alert never went out (a mail outage, say)
    stale = make_lead(name="Stale Sita", received_at=SATURDAY_1800, assignee=asha, alert_pending=True)
    recent = make_lead(name="Recent Ravi", received_at=MONDAY_0930.replace(minute=25), assignee=asha)

    result = overdue_leads_escalate(now=MONDAY_0930)
    run_queued_jobs()

    assert result.reassigned == 1
    stale.refresh_from_db()
    recent.refresh_from_db()
    assert (stale.assignee, stale.reassigned_at, recent.assignee) == (bala, MONDAY_0930, asha)
    assert not stale.alert_pending  # the reassignment's alert is its alert: no second one from a new-leads job
    assert stale.events.filter(
        kind=LeadEvent.Kind.REASSIGNED, text="Reassigned from asha to bala: no first contact in time."
    ).exists()
    told = {message.to[0]: message for message in mail.outbox}
    assert "Stale Sita" in told["bala@raamgroup.in"].body
    assert told["bala@raamgroup.in"].body.startswith(
        "This lead was handed to you, as nobody contacted it in time. It came in on 28 Nov 2026 at 18:00 IST "
        "and is New: nobody has called yet, so call within minutes."
    )
    assert told["asha@raamgroup.in"].subject == "[Raam CRM] Lead reassigned: Stale Sita"
    assert "now belongs to bala" in told["asha@raamgroup.in"].body
    # The clock starts again for bala: not moved again until another 30 business minutes pass.
    assert overdue_leads_escalate(now=MONDAY_0930.replace(minute=50)).reassigned == 0
    assert overdue_leads_escalate(now=MONDAY_0930.replace(hour=10, minute=1)).reassigned == 2
    stale.refresh_from_db()
    assert stale.assignee == asha


def test_an_unassigned_stale_lead_goes_to_whoever_is_on_duty(roles, make_lead, settings):
    settings.LEAD_REASSIGN_AFTER_MINUTES = 30
    asha = staff("asha", "Sales")
    lead = make_lead(received_at=SATURDAY_1800)

    overdue_leads_escalate(now=MONDAY_0930)

    lead.refresh_from_db()
    assert lead.assignee == asha
    assert lead.events.get(kind=LeadEvent.Kind.REASSIGNED).text == (
        "Reassigned from nobody to asha: no first contact in time."
    )


def test_the_periodic_task_runs_the_escalation(roles, make_lead):
    staff("meera", "Sales managers")
    make_lead(received_at=timezone.now() - (MONDAY_0930 - SATURDAY_1800) * 30)

    tasks.escalate_overdue_leads(timestamp=0)

    assert Lead.objects.filter(overdue_alerted_at__isnull=False).count() == 1


@pytest.mark.parametrize(("attempts", "still_claimed"), [(0, True), (tasks.MAIL_RETRY.max_attempts, False)])
def test_when_the_mail_server_stays_down_past_the_last_retry_the_leads_go_back_to_the_escalation(
    roles, make_lead, settings, attempts, still_claimed
):
    import time

    from procrastinate import JobContext
    from procrastinate.jobs import Job

    from devservers import free_port

    staff("meera", "Sales managers")
    late = make_lead(received_at=SATURDAY_1800)
    overdue_leads_escalate(now=MONDAY_0930)
    # A real mail server that is not there, as when it is down.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", free_port(), False
    job = Job(
        id=1,
        queue="alerts",
        task_name="leads.tasks.alert_overdue",
        lock=None,
        queueing_lock=None,
        task_kwargs={"lead_ids": [late.pk]},
        attempts=attempts,
    )
    context = JobContext(app=app, job=job, start_timestamp=time.time(), abort_reason=lambda: None)

    with pytest.raises(ConnectionRefusedError):  # raised on, so the queue retries while it may
        tasks.alert_overdue(context, lead_ids=[late.pk])

    late.refresh_from_db()
    assert (late.overdue_alerted_at is not None) is still_claimed
    if not still_claimed:  # the next run claims it again, to tell the managers once mail works
        assert overdue_leads_escalate(now=MONDAY_0930.replace(minute=40)).alerted == 1
