"""The job queue lives in PostgreSQL: a lead's alert job commits with the lead or not at all.

The periodic checks that were cron services are jobs of the worker now.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection, connections, transaction
from procrastinate import JobContext
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from devservers import wait_for
from leads import jobs, tasks
from leads.intake.ledger import DeliveryRequest
from leads.intake.store import IngestResult, lead_ingest
from leads.models import Delivery, Lead, LeadEvent
from leads.partners import CARDEKHO
from leads.sales import notifications
from leads.sales.alerts import new_leads_alert_lock
from tests.jobs import run_queued_jobs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_job_queue")]


class Boom(Exception):
    pass


@pytest.fixture
def asha(make_salesperson) -> User:
    return make_salesperson("asha")


def ingest_result(phone: str) -> IngestResult:
    return lead_ingest(
        partner=CARDEKHO,
        payload={"name": "Ravi", "phone_number": phone},
        delivery=DeliveryRequest(partner=CARDEKHO, client_ip="127.0.0.1"),
    )


def ingest(phone: str) -> Lead:
    return ingest_result(phone).lead


def alert_jobs(lead: Lead) -> int:
    """The alert jobs waiting for this lead's assignee: the one its lead queued, or joined."""
    user_id = Lead.objects.get(pk=lead.pk).assignee_id
    return ProcrastinateJob.objects.filter(task_name=jobs.ALERT_NEW_LEADS, args={"user_id": user_id}).count()


def waiting_jobs() -> list[tuple[str, str, str | None, dict]]:
    return list(
        ProcrastinateJob.objects.filter(status="todo").values_list("task_name", "queue_name", "queueing_lock", "args")
    )


def test_a_created_real_lead_commits_with_its_assignee_its_timeline_line_and_one_waiting_alert_job(asha):
    result = ingest_result("9876500001")

    assert not result.duplicate
    lead = Lead.objects.get(pk=result.lead.pk)
    assert (lead.assignee, lead.alert_pending) == (asha, True)
    assert list(lead.events.values_list("kind", "text")) == [
        (LeadEvent.Kind.ASSIGNED, "Assigned to asha (round-robin).")
    ]
    assert waiting_jobs() == [(jobs.ALERT_NEW_LEADS, "alerts", f"new-leads-alert:{asha.pk}", {"user_id": asha.pk})]
    assert Delivery.objects.get().lead == lead


def test_a_rolled_back_lead_leaves_no_job(asha):
    seen_inside = []

    def ingest_then_fail() -> Lead:
        with transaction.atomic():
            lead = ingest("9876500002")
            seen_inside.append(alert_jobs(lead))
            raise Boom(lead)

    with pytest.raises(Boom) as failure:
        ingest_then_fail()

    lead = failure.value.args[0]
    assert seen_inside == [1]

    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert not Delivery.objects.exists()
    assert not ProcrastinateJob.objects.exists()


def test_a_duplicate_is_its_earlier_lead_and_queues_nothing_new_even_once_the_first_alert_went_out(asha, mailoutbox):
    first = ingest("9876500003")
    run_queued_jobs()  # the first lead's alert goes out: its job no longer waits to take a duplicate's

    again = ingest_result("9876500003")

    assert (again.lead.pk, again.duplicate) == (first.pk, True)
    assert Lead.objects.count() == 1
    assert first.events.filter(kind=LeadEvent.Kind.ASSIGNED).count() == 1
    assert not Lead.objects.get(pk=first.pk).alert_pending
    assert waiting_jobs() == []
    assert len(mailoutbox) == 1
    assert sorted(Delivery.objects.values_list("outcome", flat=True)) == sorted(
        [Delivery.Outcome.CREATED, Delivery.Outcome.DUPLICATE]
    )


def test_a_test_lead_gets_no_assignee_no_timeline_line_and_no_job(asha):
    result = lead_ingest(
        partner=CARDEKHO,
        payload={"name": "Ravi", "phone_number": "9876500007"},
        delivery=DeliveryRequest(partner=CARDEKHO, client_ip="127.0.0.1"),
        is_test=True,
    )

    lead = Lead.objects.get(pk=result.lead.pk)
    assert (lead.is_test, lead.assignee, lead.alert_pending) == (True, None, False)
    assert not lead.events.exists()
    assert not ProcrastinateJob.objects.exists()


@contextlib.contextmanager
def queue_refusing_jobs(raise_statement: str) -> Iterator[None]:
    """While it lasts, the queue's table refuses every new job, raising as ``raise_statement`` says."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE FUNCTION refuse_job() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {raise_statement}; END $$"
        )
        cursor.execute("CREATE TRIGGER refuse_job BEFORE INSERT ON procrastinate_jobs EXECUTE FUNCTION refuse_job()")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse_job ON procrastinate_jobs; DROP FUNCTION refuse_job()")


def test_a_lead_whose_job_cannot_be_queued_is_not_stored_and_the_partner_is_told_to_retry(asha, post_lead):
    with queue_refusing_jobs("RAISE EXCEPTION 'the queue refuses this job'"):
        response = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876500008"})

    # Guide §6: an unexpected failure is a 500, which the partner retries; its body waits in the ledger.
    assert (response.status_code, response.json()) == (500, {"error": "Internal server error"})
    assert not Lead.objects.exists()
    assert not LeadEvent.objects.exists()
    (row,) = Delivery.objects.all()
    body = b'{"name": "Ravi", "phone_number": "9876500008"}'
    assert (row.status_code, row.lead, bytes(row.body)) == (500, None, body)


def test_a_lead_whose_job_waits_out_a_lock_is_a_503_the_partner_retries_not_a_500(asha, post_lead, settings):
    # A lock on the queue's table held past the webhook's lock timeout (a migration of procrastinate's, say), as
    # PostgreSQL reports it: lock_not_available. Like every other write of the lead's, it is "try again".
    with queue_refusing_jobs("RAISE EXCEPTION 'canceling statement due to lock timeout' USING ERRCODE = '55P03'"):
        response = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876500018"})

    assert (response.status_code, response.json()) == (503, {"error": "Service temporarily unavailable, please retry"})
    assert response["Retry-After"] == str(settings.LEAD_RETRY_AFTER_SECONDS)
    assert not Lead.objects.exists()
    assert Delivery.objects.get().status_code == 503


def test_a_job_queued_by_name_is_the_one_its_tasks_own_defer_queues(asha):
    # leads.jobs queues by name, with the queue, priority and lock leads.tasks declares for the task.
    jobs.defer(jobs.ALERT_ASSIGNEE, lead_id=1, user_id=asha.pk)
    columns = ("queue_name", "task_name", "priority", "lock", "queueing_lock", "args", "status")
    ours = ProcrastinateJob.objects.values(*columns).get()
    ProcrastinateJob.objects.all().delete()

    tasks.alert_assignee.defer(lead_id=1, user_id=asha.pk)

    assert ProcrastinateJob.objects.values(*columns).get() == ours


def test_a_job_queued_in_a_transaction_that_rolls_back_goes_with_it(asha):
    seen_inside = []

    def queue_then_fail() -> None:
        with transaction.atomic():
            seen_inside.append(jobs.defer(jobs.ALERT_ASSIGNEE, lead_id=1, user_id=asha.pk))
            raise Boom()

    with pytest.raises(Boom):
        queue_then_fail()

    assert seen_inside == [True]
    assert not ProcrastinateJob.objects.exists()


def test_a_job_whose_queueing_lock_waits_already_is_not_queued_and_the_callers_transaction_goes_on(asha, make_lead):
    lock = new_leads_alert_lock(asha.pk)
    jobs.defer(jobs.ALERT_NEW_LEADS, queueing_lock=lock, user_id=asha.pk)

    with transaction.atomic():
        queued = jobs.defer(jobs.ALERT_NEW_LEADS, queueing_lock=lock, user_id=asha.pk)
        lead = make_lead(assignee=asha, alert_pending=True)  # the caller writes on, and commits

    assert queued is False
    assert Lead.objects.filter(pk=lead.pk, assignee=asha).exists()
    assert waiting_jobs() == [(jobs.ALERT_NEW_LEADS, "alerts", lock, {"user_id": asha.pk})]


def test_later_leads_join_the_job_already_waiting_and_one_email_names_them_all(asha, mailoutbox):
    leads = [ingest(f"98765000{n:02d}") for n in range(10, 13)]
    (job,) = ProcrastinateJob.objects.all()

    notifications.new_leads_alert_send(user_id=asha.pk, joined_under=job.queueing_lock)

    (message,) = mailoutbox
    assert message.subject == "[Raam CRM] 3 new leads: Ravi, Ravi, Ravi"
    assert message.body.count("Open the lead: ") == 3
    assert not Lead.objects.filter(alert_pending=True).exists()
    for lead in leads:
        assert lead.events.filter(kind=LeadEvent.Kind.ALERT_SENT).count() == 1


def test_a_lead_still_committing_as_its_job_starts_is_in_that_jobs_email(asha, mailoutbox):
    first = ingest("9876500020")
    (job,) = ProcrastinateJob.objects.all()
    joined, commit, done = threading.Event(), threading.Event(), threading.Event()

    def lead_that_joins_then_commits() -> None:
        try:
            with transaction.atomic():
                ingest("9876500021")  # joins the waiting job, and holds its shared lock until commit
                joined.set()
                commit.wait(timeout=10)
        finally:
            connection.close()

    def the_job() -> None:
        try:
            notifications.new_leads_alert_send(user_id=asha.pk, joined_under=job.queueing_lock)
        finally:
            connection.close()
            done.set()

    lead_thread = threading.Thread(target=lead_that_joins_then_commits)
    lead_thread.start()
    assert joined.wait(timeout=10)
    job_thread = threading.Thread(target=the_job)
    job_thread.start()
    # The job waits for the lead, not the other way round.
    wait_for(lambda: advisory_lock_waiters() == 1, timeout=10, what="the job to wait on the lead's lock")
    commit.set()
    lead_thread.join(timeout=10)
    job_thread.join(timeout=10)

    assert done.is_set()
    (message,) = mailoutbox
    assert message.subject == "[Raam CRM] 2 new leads: Ravi, Ravi"
    assert not Lead.objects.filter(alert_pending=True).exists()
    assert first.events.filter(kind=LeadEvent.Kind.ALERT_SENT).exists()


def advisory_lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return int(cursor.fetchone()[0])


def test_a_pending_alert_left_without_a_job_gets_one_and_a_waiting_one_is_not_doubled(asha, make_salesperson):
    young = ingest("9876500029")
    lead = ingest("9876500030")
    bala, chitra = make_salesperson("bala", on_duty=False), make_salesperson("chitra", on_duty=False)
    # Pending too, but younger than the grace: chitra's job may still be coming round.
    Lead.objects.filter(pk=young.pk).update(assignee=chitra)
    ProcrastinateJob.objects.all().delete()  # as when a job gave up while the mail server was down
    recent = ingest("9876500031")  # queues asha's job again: nothing to add for her
    Lead.objects.filter(pk=recent.pk).update(assignee=bala)  # handed over before its alert went out
    long_ago = lead.received_at - tasks.PENDING_ALERT_GRACE * 2
    Lead.objects.filter(pk__in=[lead.pk, recent.pk]).update(received_at=long_ago)

    tasks.requeue_pending_alerts(timestamp=0)
    tasks.requeue_pending_alerts(timestamp=0)

    waiting = ProcrastinateJob.objects.filter(task_name="leads.tasks.alert_new_leads", status="todo")
    assert sorted(waiting.values_list("queueing_lock", flat=True)) == sorted(
        [new_leads_alert_lock(asha.pk), new_leads_alert_lock(bala.pk)]
    )


def test_finished_jobs_are_removed_after_a_week_and_waiting_ones_never(asha):
    ingest("9876500040")  # a waiting alert job
    week_old, recent = tasks.alert_new_leads.defer(user_id=0), tasks.alert_new_leads.defer(user_id=1)
    ProcrastinateJob.objects.filter(pk=week_old).update(status="succeeded")
    ProcrastinateJob.objects.filter(pk=recent).update(status="failed")
    with connection.cursor() as cursor:  # a job's events say when it finished; the waiting one's are as old
        cursor.execute("UPDATE procrastinate_events SET at = now() - interval '8 days' WHERE job_id <> %s", [recent])
    job = tasks.remove_old_jobs.configure().job
    context = JobContext(app=app, job=job, start_timestamp=time.time(), abort_reason=lambda: None)

    asyncio.run(closing_its_connection(tasks.remove_old_jobs(context, timestamp=0)))

    assert not ProcrastinateJob.objects.filter(pk=week_old).exists()
    assert sorted(ProcrastinateJob.objects.values_list("status", flat=True)) == ["failed", "todo"]


async def closing_its_connection(job: Any) -> None:
    """Run an async job, then close the database connection its queries opened on asgiref's sync thread."""
    try:
        await job
    finally:
        await sync_to_async(connections.close_all)()


def test_the_worker_runs_several_jobs_at_once():
    # One salesperson's alert job waiting on the SMTP server must not hold up the others' (bench/alert_latency.py).
    assert app.worker_defaults["concurrency"] >= 3


def test_the_flow_check_the_prune_and_the_overdue_escalation_are_periodic_jobs_of_the_worker():
    schedules = {task.task.name: task.cron for task in app.periodic_registry.periodic_tasks.values()}

    assert schedules == {
        "leads.tasks.check_lead_flow": "*/15 * * * *",
        "leads.tasks.prune_deliveries": "0 21 * * *",
        "leads.tasks.escalate_overdue_leads": "*/5 * * * *",
        "leads.tasks.requeue_pending_alerts": "*/5 * * * *",
        "leads.tasks.remove_old_jobs": "30 21 * * *",
        "leads.tasks.alert_due_follow_ups": "* * * * *",
        "leads.tasks.refresh_report_snapshots": "*/5 * * * *",
    }


def test_the_periodic_jobs_run_the_management_commands(capsys):
    tasks.check_lead_flow(timestamp=0)
    tasks.prune_deliveries(timestamp=0)

    out = capsys.readouterr().out
    assert out.count("\n") >= 2  # each command's one-line summary


def test_a_flow_alert_is_the_email_not_a_failed_job(settings, caplog, mailoutbox):
    from leads.models import Delivery

    settings.ADMINS = [("", "ops@raamgroup.in")]
    Delivery.objects.bulk_create(Delivery(platform="CarDekho", status_code=503, outcome="error") for _ in range(5))

    with caplog.at_level("WARNING", logger="leads.tasks"):
        tasks.check_lead_flow(timestamp=0)  # no CommandError: the job succeeded at alerting

    assert [message.to for message in mailoutbox] == [["ops@raamgroup.in"]]
    assert "Lead flow alert: 5 of 5 deliveries" in caplog.text


def test_the_commands_still_work_from_a_shell():
    out = StringIO()

    call_command("prune_deliveries", stdout=out)

    assert out.getvalue().strip()


@pytest.mark.django_db(transaction=True)
def test_in_the_worker_a_hand_overs_jobs_join_its_transaction(roles, make_lead, make_salesperson):
    # The worker swaps the app's connector for a pool of its own; the SLA reassignment runs there, and its
    # alerts must not be visible (or run) before the reassignment commits.
    import psycopg
    from django.db import connection, transaction
    from django.utils import timezone

    from leads.sales.sla import HANDOVER_FIELDS, lead_handed_over

    asha, bala = make_salesperson("asha"), make_salesperson("bala")
    lead = make_lead(assignee=asha)
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    jobs_seen_elsewhere = "SELECT count(*) FROM procrastinate_jobs WHERE task_name LIKE 'leads.tasks.alert_%'"

    with app.replace_connector(app.connector.get_worker_connector()), app.open(), transaction.atomic():
        lead.assignee = bala
        lead_handed_over(lead, previous_id=asha.pk, at=timezone.now())
        lead.save(update_fields=["assignee", *HANDOVER_FIELDS])
        with psycopg.connect(**params) as other:
            before_commit = other.execute(jobs_seen_elsewhere).fetchone()[0]
    with psycopg.connect(**params) as other:
        after_commit = other.execute(jobs_seen_elsewhere).fetchone()[0]

    assert (before_commit, after_commit) == (0, 2)  # the new assignee's alert and the previous one's notice
