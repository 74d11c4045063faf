"""The lead page: partner data read-only, follow-up editable, payload and links safe."""

from __future__ import annotations

import pytest

from leads.models import Delivery, Lead

pytestmark = pytest.mark.django_db


def url(lead: Lead) -> str:
    return f"/admin/leads/lead/{lead.pk}/change/"


def test_partner_fields_are_read_only_and_follow_up_is_editable(sales_client, make_lead):
    lead = make_lead()

    form = sales_client.get(url(lead)).context["adminform"].form

    assert set(form.fields) == {"status", "assignee", "notes"}


def test_sales_sets_status_assignee_and_notes_but_cannot_touch_partner_data(sales_client, sales_user, make_lead):
    lead = make_lead(name="Ravi")

    response = sales_client.post(
        url(lead),
        {"status": "test_drive_booked", "assignee": sales_user.pk, "notes": "Wants Saturday", "name": "Hacked"},
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.status, lead.assignee, lead.notes, lead.name) == (
        "test_drive_booked",
        sales_user,
        "Wants Saturday",
        "Ravi",
    )


def test_sales_cannot_reassign_but_managers_can(sales_client, manager_user, sales_user, make_lead, client):
    lead = make_lead(assignee=sales_user)

    sales_form = sales_client.get(url(lead)).context["adminform"].form
    sales_client.post(url(lead), {"status": "contacted", "assignee": manager_user.pk, "notes": ""})
    lead.refresh_from_db()

    assert "assignee" not in sales_form.fields
    assert lead.assignee == sales_user
    client.force_login(manager_user)
    client.post(url(lead), {"status": "contacted", "assignee": manager_user.pk, "notes": ""})
    lead.refresh_from_db()
    assert lead.assignee == manager_user


def test_nobody_in_sales_can_delete_or_add_leads(sales_client, manager_client, make_lead):
    lead = make_lead()

    assert sales_client.post(f"/admin/leads/lead/{lead.pk}/delete/", {"post": "yes"}).status_code == 403
    assert manager_client.post(f"/admin/leads/lead/{lead.pk}/delete/", {"post": "yes"}).status_code == 403
    assert manager_client.get("/admin/leads/lead/add/").status_code == 403
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_payload_is_pretty_printed_and_escaped(admin_client, make_lead):
    lead = make_lead(payload={"name": "<script>alert(1)</script>", "nested": {"a": [1, 2]}})

    html = admin_client.get(url(lead)).content.decode()

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
    assert "&quot;nested&quot;: {\n    &quot;a&quot;: [" in html


@pytest.mark.parametrize(
    ("lead_url", "linked"),
    [
        ("https://cardekho.com/leads/123", True),
        ("HTTP://carwale.com/lead/456", True),
        ("javascript:alert(document.cookie)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ('https://x.com/"onmouseover="alert(1)', True),
    ],
)
def test_lead_url_is_a_link_only_for_http_and_https(admin_client, make_lead, lead_url, linked):
    lead = make_lead(lead_url=lead_url)

    html = admin_client.get(url(lead)).content.decode()

    assert ('target="_blank" rel="noopener noreferrer"' in html) is linked
    assert 'href="javascript:' not in html.lower()
    assert 'href="data:' not in html
    assert '"onmouseover="' not in html


def test_other_leads_with_the_same_phone_are_listed_with_links(admin_client, make_lead):
    lead = make_lead(name="Ravi", phone_number="9876543210")
    twin = make_lead(name="Ravi on CarWale", platform="CarWale", phone_number="+91 98765 43210")
    make_lead(name="Stranger", phone_number="9123456780")

    html = admin_client.get(url(lead)).content.decode()

    assert f'href="/admin/leads/lead/{twin.pk}/change/"' in html
    assert "Ravi on CarWale" in html
    assert "Stranger" not in html


def test_deliveries_that_brought_the_lead_are_listed(admin_client, make_lead):
    lead = make_lead()
    Delivery.objects.create(platform="CarDekho", status_code=201, outcome="created", lead=lead)
    Delivery.objects.create(platform="CarDekho", status_code=201, outcome="duplicate", lead=lead)

    html = admin_client.get(url(lead)).content.decode()

    assert "201 · created" in html
    assert "201 · duplicate" in html
