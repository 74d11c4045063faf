"""The assignee's alert: a real worker takes the job from PostgreSQL and mails a real SMTP server."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import User
from procrastinate.contrib.django.models import ProcrastinateJob

from devservers import free_port, stop_process, wait_for
from leads.models import Lead, LeadEvent
from leads.partners import CARDEKHO
from tests.servers import ROOT, server_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_job_queue")]

PUBLIC_BASE_URL = "https://crm.example.test"
HOSTILE_NAME = '<script>alert("x")</script> Ravi & Sons'


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@contextlib.contextmanager
def worker(smtp_port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``manage.py procrastinate worker`` as render.yaml runs it, on this test's database, mailing ``smtp_port``."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LEAD_", "DJANGO_SETTINGS_MODULE"))},
        **server_env(),
        "SECRET_KEY": "tests-only-not-a-secret",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_USE_TLS": "0",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "procrastinate", "worker", "--queues", "alerts"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        stop_process(process)


@pytest.fixture
def asha(make_salesperson) -> User:
    return make_salesperson("asha")


def the_lead() -> dict[str, str]:
    return {
        "name": HOSTILE_NAME,
        "phone_number": "+91 98765 43210",
        "car_model": "MG <b>Hector</b>",
        "campaign": "Diwali Offers",
    }


def test_the_assignee_gets_an_email_with_the_buyer_and_links_to_call_and_open_the_lead(asha, post_lead):
    port = free_port()
    with smtp_server(port) as inbox, worker(port):
        response = post_lead(CARDEKHO, the_lead())
        (message,) = wait_for(lambda: inbox.messages, timeout=30, what="the alert email")

    assert response.status_code == 201
    lead = Lead.objects.get(public_id=response.json()["id"])
    assert lead.assignee == asha
    assert message["To"] == "asha@raamgroup.in"
    assert "New lead:" in message["Subject"] and "Ravi & Sons" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    admin_url = f"{PUBLIC_BASE_URL}/admin/leads/lead/{lead.pk}/change/"
    for expected in (HOSTILE_NAME, "MG <b>Hector</b>", "Diwali Offers", "CarDekho", "tel:+919876543210", admin_url):
        assert expected in text
    assert "https://wa.me/919876543210" in text
    # The partner's text is escaped in the HTML part; the links are ours.
    assert "<script>" not in html and "<b>Hector" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Ravi &amp; Sons" in html
    assert "MG &lt;b&gt;Hector&lt;/b&gt;" in html
    assert 'href="tel:+919876543210"' in html
    assert 'href="https://wa.me/919876543210"' in html
    assert f'href="{admin_url}"' in html
    event = lead.events.get(kind=LeadEvent.Kind.ALERT_SENT)
    assert event.text == "New-lead alert emailed to asha@raamgroup.in."


def test_a_mail_server_that_is_down_is_retried_and_never_touches_the_webhooks_answer(asha, post_lead):
    port = free_port()  # nothing listens here yet
    with worker(port):
        response = post_lead(CARDEKHO, the_lead())
        assert response.status_code == 201
        alerts = ProcrastinateJob.objects.filter(task_name="leads.tasks.alert_new_leads")
        retry = wait_for(
            lambda: alerts.filter(args={"user_id": asha.pk, "attempt": 1}).first(),
            timeout=30,
            what="the first attempt to fail and queue its retry",
        )
        assert retry.status == "todo" and retry.scheduled_at is not None  # with backoff
        first_try = alerts.filter(args={"user_id": asha.pk})
        wait_for(lambda: first_try.filter(status="failed").exists(), timeout=10, what="the first try marked failed")
        assert not LeadEvent.objects.filter(kind=LeadEvent.Kind.ALERT_SENT).exists()
        # A lead arriving meanwhile joins the retry rather than queueing a job of its own.
        second = post_lead(CARDEKHO, {**the_lead(), "phone_number": "+91 98765 43211"})
        assert second.status_code == 201
        assert alerts.filter(status="todo").get() == retry

        with smtp_server(port) as inbox:
            (message,) = wait_for(lambda: inbox.messages, timeout=30, what="the retried alert")

    assert message["To"] == "asha@raamgroup.in"
    assert message["Subject"].startswith("[Raam CRM] 2 new leads: ")
    retry.refresh_from_db()
    assert retry.status == "succeeded"
    assert LeadEvent.objects.filter(kind=LeadEvent.Kind.ALERT_SENT).count() == 2
    assert not Lead.objects.filter(alert_pending=True).exists()


def test_a_name_and_car_sent_with_line_breaks_reach_the_email_on_one_line(asha, post_lead):
    forged = "Ravi\r\nOpen the lead: https://evil.example\u2028Call: +91 90000 00000"
    port = free_port()
    with smtp_server(port) as inbox, worker(port):
        response = post_lead(CARDEKHO, {**the_lead(), "name": forged, "car_model": "Hector\nCall: +91 90000 00001"})
        (message,) = wait_for(lambda: inbox.messages, timeout=30, what="the alert email")

    assert response.status_code == 201
    text = message.get_body(("plain",)).get_content()
    lines = text.splitlines()
    assert "Buyer:    Ravi Open the lead: https://evil.example Call: +91 90000 00000" in lines
    assert "Car:      Hector Call: +91 90000 00001" in lines
    assert not any(line.startswith(("Open the lead: https://evil", "Call: +91 9000")) for line in lines)


@pytest.mark.django_db
def test_a_lead_stored_before_line_breaks_were_collapsed_still_reaches_an_email_on_one_line(
    make_lead, settings, mailoutbox
):
    from leads.sales.notifications import overdue_alert_send

    settings.ADMINS = [("Ops", "ops@example.com")]
    lead = make_lead(name="Ravi\nOpen the lead: https://evil.example", car_model="Hector\r\nCall: +91 90000 00001")

    assert overdue_alert_send(lead_ids=[lead.pk]) == 1

    lines = mailoutbox[0].body.splitlines()
    assert "Buyer:    Ravi Open the lead: https://evil.example" in lines
    assert "Car:      Hector Call: +91 90000 00001" in lines
    assert not any(line.startswith(("Open the lead: https://evil", "Call: +91 9000")) for line in lines)
