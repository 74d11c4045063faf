"""The job queue lives in PostgreSQL: a lead's alert job commits with the lead or not at all.

The periodic checks that were cron services are jobs of the worker now.
"""

from __future__ import annotations

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
from leads.models import Delivery, Lead
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
    return ProcrastinateJob.objects.filter(task_name="leads.tasks.alert_assignee", args={"lead_id": lead.pk}).count()


def test_a_committed_lead_has_its_alert_job_in_the_database(asha):
    lead = ingest("9876500001")

    assert Lead.objects.get(pk=lead.pk).assignee == asha
    job = ProcrastinateJob.objects.get(args={"lead_id": lead.pk})
    assert (job.task_name, job.queue_name, job.status) == ("leads.tasks.alert_assignee", "alerts", "todo")


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
    assert sql[0] == "BEGIN" and sql[-1] == "COMMIT"
    assert "EXECUTE leads_store_phone_digits(" in sql[1]
    assert len(sql) == 4 and sql[2].startswith("SELECT")  # reading the earlier lead back, as before
    assert alert_jobs(first) == 1


def test_a_created_leads_statement_assignment_and_job_share_one_transaction(asha):
    ingest("9876500004")  # prepares the statement on this connection

    with CaptureQueriesContext(connection) as queries:
        lead = ingest("9876500005")

    sql = statements(queries)
    assert sql[0] == "BEGIN" and sql[-1] == "COMMIT" and "COMMIT" not in sql[1:-1]
    assert "EXECUTE leads_store_phone_digits(" in sql[1]
    assert any("procrastinate_defer_jobs" in s for s in sql[2:-1])
    assert alert_jobs(lead) == 1


def test_a_test_lead_is_the_statement_alone(asha):
    lead_ingest(
        partner=CARDEKHO,
        payload={"name": "Ravi", "phone_number": "9876500006"},
        delivery=DeliveryRequest(partner=CARDEKHO, client_ip="127.0.0.1"),
        is_test=True,
    )

    with CaptureQueriesContext(connection) as queries:
        lead_ingest(
            partner=CARDEKHO,
            payload={"name": "Ravi", "phone_number": "9876500007"},
            delivery=DeliveryRequest(partner=CARDEKHO, client_ip="127.0.0.1"),
            is_test=True,
        )

    assert len(queries) == 1 and "EXECUTE leads_store_phone_digits(" in queries[0]["sql"]


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
