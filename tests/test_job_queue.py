"""The job queue lives in PostgreSQL: a lead's alert job commits with the lead or not at all.

The periodic checks that were cron services are jobs of the worker now.
"""

from __future__ import annotations

from importlib.metadata import version
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from leads import tasks
from leads.ingest import lead_ingest
from leads.ledger import DeliveryRequest
from leads.models import Delivery, Lead, LeadEvent
from leads.partners import CARDEKHO

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


@pytest.fixture
def asha(make_salesperson) -> User:
    return make_salesperson("asha")


def ingest(phone: str) -> Lead:
    return lead_ingest(
        partner=CARDEKHO,
        payload={"name": "Ravi", "phone_number": phone},
        delivery=DeliveryRequest(partner=CARDEKHO, client_ip="127.0.0.1"),
    ).lead


def alert_jobs(lead: Lead) -> int:
    return ProcrastinateJob.objects.filter(task_name="leads.tasks.alert_new_lead", args={"lead_id": lead.pk}).count()


def test_a_committed_lead_has_its_alert_job_in_the_database(asha):
    lead = ingest("9876500001")

    assert Lead.objects.get(pk=lead.pk).assignee == asha
    job = ProcrastinateJob.objects.get(args={"lead_id": lead.pk})
    assert (job.task_name, job.queue_name, job.status) == ("leads.tasks.alert_new_lead", "alerts", "todo")


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
    assert alert_jobs(lead) == 0


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries]


def test_a_duplicate_is_the_statement_and_its_lead_and_queues_nothing(asha):
    first = ingest("9876500003")

    with CaptureQueriesContext(connection) as queries:
        again = ingest("9876500003")

    assert again.pk == first.pk
    sql = statements(queries)
    assert "EXECUTE leads_store_phone_digits(" in sql[0]
    assert len(sql) == 2 and sql[1].startswith("SELECT")  # reading the earlier lead back, as before
    assert alert_jobs(first) == 1


def test_a_created_lead_its_assignment_its_timeline_and_its_job_are_one_statement(asha):
    ingest("9876500004")  # prepares the statement on this connection

    with CaptureQueriesContext(connection) as queries:
        lead = ingest("9876500005")

    (sql,) = statements(queries)
    assert "EXECUTE leads_store_phone_digits(" in sql
    assert Lead.objects.get(pk=lead.pk).assignee == asha
    assert lead.events.get().text == "Assigned to asha (round-robin)."
    assert alert_jobs(lead) == 1


def test_a_test_lead_is_the_statement_alone(asha):
    lead_ingest(
        partner=CARDEKHO,
        payload={"name": "Ravi", "phone_number": "9876500006"},
        delivery=DeliveryRequest(partner=CARDEKHO, client_ip="127.0.0.1"),
        is_test=True,
    )

    with CaptureQueriesContext(connection) as queries:
        lead = lead_ingest(
            partner=CARDEKHO,
            payload={"name": "Ravi", "phone_number": "9876500007"},
            delivery=DeliveryRequest(partner=CARDEKHO, client_ip="127.0.0.1"),
            is_test=True,
        ).lead

    assert len(queries) == 1 and "EXECUTE leads_store_phone_digits(" in queries[0]["sql"]
    assert Lead.objects.get(pk=lead.pk).assignee is None
    assert (lead.events.count(), alert_jobs(lead)) == (0, 0)


def test_a_lead_whose_job_cannot_be_queued_is_not_stored_and_the_partner_is_told_to_retry(asha, post_lead):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_job() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'the queue refuses this job'; END $$"
        )
        cursor.execute("CREATE TRIGGER refuse_job BEFORE INSERT ON procrastinate_jobs EXECUTE FUNCTION refuse_job()")
    try:
        response = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876500008"})
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse_job ON procrastinate_jobs; DROP FUNCTION refuse_job()")

    # Guide §6: an unexpected failure is a 500, which the partner retries; its body waits in the ledger.
    assert (response.status_code, response.json()) == (500, {"error": "Internal server error"})
    assert not Lead.objects.exists()
    assert not LeadEvent.objects.exists()
    (row,) = Delivery.objects.all()
    body = b'{"name": "Ravi", "phone_number": "9876500008"}'
    assert (row.status_code, row.lead, bytes(row.body)) == (500, None, body)


def test_the_statements_job_is_the_one_procrastinates_own_defer_queues(asha):
    lead = ingest("9876500009")
    theirs = tasks.alert_new_lead.defer(lead_id=lead.pk)

    columns = ("queue_name", "task_name", "priority", "lock", "queueing_lock", "args", "scheduled_at", "status")
    ours_row, theirs_row = (
        ProcrastinateJob.objects.filter(pk=pk).values(*columns).get()
        for pk in (ProcrastinateJob.objects.get(args={"lead_id": lead.pk}, pk__lt=theirs).pk, theirs)
    )
    assert ours_row == theirs_row


def test_procrastinate_is_the_version_the_statements_job_was_checked_against():
    # leads.ingest queues a new lead's job by procrastinate's SQL function procrastinate_defer_jobs_v1,
    # inside its own statement. Read against procrastinate 3.10: on another version, check that function
    # and its procrastinate_job_to_defer_v1 type in procrastinate/sql/schema.sql, then widen this.
    assert tuple(int(part) for part in version("procrastinate").split(".")[:2]) == (3, 10)


def test_the_flow_check_the_prune_and_the_overdue_escalation_are_periodic_jobs_of_the_worker():
    schedules = {task.task.name: task.cron for task in app.periodic_registry.periodic_tasks.values()}

    assert schedules == {
        "leads.tasks.check_lead_flow": "*/15 * * * *",
        "leads.tasks.prune_deliveries": "0 21 * * *",
        "leads.tasks.escalate_overdue_leads": "*/5 * * * *",
    }


def test_the_periodic_jobs_run_the_management_commands(capsys):
    tasks.check_lead_flow(timestamp=0)
    tasks.prune_deliveries(timestamp=0)

    out = capsys.readouterr().out
    assert out.count("\n") >= 2  # each command's one-line summary


def test_the_commands_still_work_from_a_shell():
    out = StringIO()

    call_command("prune_deliveries", stdout=out)

    assert out.getvalue().strip()
