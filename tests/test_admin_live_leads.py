"""Live leads: the small JSON answer the lead list and the board poll, and the repeat buyer's badge and alert."""

from __future__ import annotations

import pytest
from django.core import mail

from leads.models import Lead, LeadEvent
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db

LIVE = "/admin/leads/lead/live/"


@pytest.fixture
def on_duty_sam(sales_user):
    sales_user.email = "sam@raamgroup.in"
    sales_user.save()
    return sales_user


def test_a_posted_lead_is_in_its_salespersons_next_poll_once(on_duty_sam, sales_client, post_lead):
    first = sales_client.get(LIVE).json()
    assert post_lead(CARDEKHO, {"name": "Sunita Rao", "phone_number": "9876543210"}).status_code == 201

    answer = sales_client.get(LIVE, {"since": first["cursor"]}).json()

    lead = Lead.objects.get()
    assert [(item["id"], item["name"], item["mine"], item["repeat_buyer"]) for item in answer["leads"]] == [
        (lead.pk, "Sunita Rao", True, False)
    ]
    # The cursor lags the clock so a late commit is not skipped; the page drops lines it has seen by id.
    assert answer["cursor"] <= LeadEvent.objects.latest("id").pk


def test_a_salesperson_hears_only_of_their_own_leads_and_a_manager_of_everyones(
    on_duty_sam, sales_client, manager_client, make_salesperson, make_lead
):
    other = make_salesperson("tara")
    theirs = make_lead(assignee=other)
    LeadEvent.objects.create(lead=theirs, kind=LeadEvent.Kind.ASSIGNED)

    assert sales_client.get(LIVE, {"since": 0}).json()["leads"] == []
    assert [item["id"] for item in manager_client.get(LIVE, {"since": 0}).json()["leads"]] == [theirs.pk]


def test_a_repeat_buyers_new_enquiry_is_marked_in_the_list_the_poll_and_the_alert(
    on_duty_sam, sales_client, post_lead, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    post_lead(CARDEKHO, {"name": "Sunita Rao", "phone_number": "9876543210"})
    post_lead(CARWALE, {"name": "Sunita Rao", "phone": "+91 98765 43210"})
    earlier, later = Lead.objects.order_by("received_at")

    answer = sales_client.get(LIVE, {"since": 0}).json()
    page = sales_client.get("/admin/leads/lead/").content.decode()

    assert {item["id"]: item["repeat_buyer"] for item in answer["leads"]} == {earlier.pk: False, later.pk: True}
    assert page.count('class="repeat-badge"') == 1

    from leads.sales.notifications import new_leads_alert_send

    new_leads_alert_send(user_id=on_duty_sam.pk)
    assert "Repeat buyer" in mail.outbox[-1].body


def test_a_lead_handed_to_a_salesperson_is_in_their_next_poll_as_theirs(
    on_duty_sam, sales_client, manager_user, make_salesperson, make_lead
):
    from leads.admin.timeline import lead_follow_up_save

    lead = make_lead(assignee=make_salesperson("tara"), name="Imran Shaikh")
    cursor = sales_client.get(LIVE).json()["cursor"]
    lead.assignee = on_duty_sam

    lead_follow_up_save(lead=lead, actor=manager_user)

    answer = sales_client.get(LIVE, {"since": cursor}).json()
    assert [(item["id"], item["mine"]) for item in answer["leads"]] == [(lead.pk, True)]
