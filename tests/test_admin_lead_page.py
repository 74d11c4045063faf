"""The lead page: partner data read-only, follow-up editable, payload and links safe."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from leads.admin.timeline import LeadChangedMeanwhile, follow_up_check, follow_up_seen
from leads.common.business_time import business_minutes_between
from leads.models import Delivery, Lead, LeadEvent
from leads.sales.sla import lead_called
from tests.jobs import run_queued_jobs

# A test that runs queued jobs is transactional: the worker sees only committed rows (tests/jobs.py).
pytestmark = pytest.mark.django_db


def url(lead: Lead) -> str:
    return f"/admin/leads/lead/{lead.pk}/change/"


def save(client, lead: Lead, changes: dict):
    """Save the lead page as a person does: open it, make ``changes``, send the form back."""
    form = client.get(url(lead)).context["adminform"].form
    shown = {name: form[name].value() for name in form.fields}
    return client.post(
        url(lead), {name: "" if value is None else value for name, value in {**shown, **changes}.items()}
    )


def test_partner_fields_are_read_only_and_follow_up_is_editable(sales_client, make_lead):
    lead = make_lead()

    form = sales_client.get(url(lead)).context["adminform"].form

    assert set(form.fields) == {
        "status",
        "assignee",
        "follow_up_seen",
        "call_outcome",
        "next_follow_up_at",
        "new_note",
        "lost_reason",
        "test_drive_at",
        "trade_in",
        "finance_interest",
    }
    assert form.fields["follow_up_seen"].widget.is_hidden


def test_a_page_opened_before_a_colleagues_save_cannot_undo_it(sales_client, sales_user, manager_client, make_lead):
    lead = make_lead(assignee=sales_user)
    opened = manager_client.get(url(lead)).context["adminform"].form
    save(sales_client, lead, {"status": "test_drive_booked", "new_note": "Saturday 10:00"})
    lead_called(lead=lead, actor=sales_user)  # later, and not a change to what the manager's page shows

    # The manager saves the page opened before: only the assignee differs from what it showed.
    stale = {"status": "new", "assignee": "", "new_note": "Typed", "follow_up_seen": opened["follow_up_seen"].value()}
    response = manager_client.post(url(lead), stale)

    assert response.status_code == 200  # the form again, with the reason and what was typed
    assert "changed after you opened it (Status changed, sam-sales, " in response.content.decode()
    assert response.context["adminform"].form["new_note"].value() == "Typed"
    lead.refresh_from_db()
    assert (lead.status, lead.assignee) == ("test_drive_booked", sales_user)
    assert not LeadEvent.objects.filter(lead=lead, actor__username="meera-manager").exists()
    # Saved again from the form shown back (it now carries the lead as it is), it applies.
    again = {**stale, "follow_up_seen": response.context["adminform"].form["follow_up_seen"].value()}
    assert manager_client.post(url(lead), again).status_code == 302
    lead.refresh_from_db()
    assert (lead.status, lead.assignee) == ("new", None)


def test_a_save_from_a_page_without_the_fingerprint_is_refused(manager_client, sales_user, make_lead):
    lead = make_lead(assignee=sales_user)

    response = manager_client.post(url(lead), {"status": "lost", "lost_reason": "price", "assignee": sales_user.pk})

    assert "This page is out of date. Nothing was saved" in response.content.decode()
    lead.refresh_from_db()
    assert lead.status == "new"


@pytest.mark.django_db(transaction=True)
def test_the_check_keeps_the_row_locked_until_the_save_commits(sales_user, make_lead):
    import psycopg
    from django.db import transaction

    from tests.servers import current_database_url

    lead = make_lead(assignee=sales_user)
    with transaction.atomic():  # as the admin's change view is
        follow_up_check(lead, follow_up_seen(lead))
        with psycopg.connect(current_database_url()) as colleague, pytest.raises(psycopg.errors.LockNotAvailable):
            colleague.execute("SELECT 1 FROM leads_lead WHERE id = %s FOR UPDATE NOWAIT", [lead.pk])


def test_the_check_reads_the_row_not_the_page_and_refuses_a_change_made_since(sales_user, make_lead):
    lead = make_lead(assignee=sales_user)
    seen = follow_up_seen(lead)
    Lead.objects.filter(pk=lead.pk).update(status="contacted")
    lead.status = "booked"

    with pytest.raises(LeadChangedMeanwhile):
        follow_up_check(lead, seen)

    lead.refresh_from_db()
    assert lead.status == "contacted"
    assert not LeadEvent.objects.filter(lead=lead).exists()


def test_sales_sets_status_assignee_and_notes_but_cannot_touch_partner_data(sales_client, sales_user, make_lead):
    lead = make_lead(name="Ravi")

    response = save(
        sales_client,
        lead,
        {"status": "test_drive_booked", "assignee": sales_user.pk, "new_note": "Wants Saturday", "name": "Hacked"},
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.status, lead.assignee, lead.name) == ("test_drive_booked", sales_user, "Ravi")
    assert list(lead.lead_notes.values_list("text", "author")) == [("Wants Saturday", sales_user.pk)]


def test_sales_cannot_reassign_but_managers_can(sales_client, manager_user, sales_user, make_lead, client):
    lead = make_lead(assignee=sales_user)

    sales_form = sales_client.get(url(lead)).context["adminform"].form
    save(sales_client, lead, {"status": "contacted", "assignee": manager_user.pk})
    lead.refresh_from_db()

    assert "assignee" not in sales_form.fields
    assert lead.assignee == sales_user
    client.force_login(manager_user)
    save(client, lead, {"status": "contacted", "assignee": manager_user.pk})
    lead.refresh_from_db()
    assert lead.assignee == manager_user


def test_a_manager_hands_leads_only_to_people_who_can_work_them(manager_client, sales_user, make_lead, roles):
    from django.contrib.auth.models import User

    no_role = User.objects.create_user("nita-no-role", is_staff=True)
    left_sales = User.objects.create_user("lalit-left", is_staff=True)
    lead = make_lead(assignee=left_sales)

    choices = manager_client.get(url(lead)).context["adminform"].form.fields["assignee"].queryset
    refused = save(manager_client, lead, {"status": "new", "assignee": no_role.pk})

    assert set(choices.values_list("username", flat=True)) == {"sam-sales", "meera-manager", "lalit-left"}
    assert "assignee" in refused.context["adminform"].form.errors
    # Kept as it is, the current assignee still saves even though they no longer work leads.
    assert save(manager_client, lead, {"status": "contacted", "assignee": left_sales.pk}).status_code == 302


def test_a_test_lead_cannot_be_assigned_by_hand(sales_client, manager_client, sales_user, make_lead):
    lead = make_lead(is_test=True)

    for client in (sales_client, manager_client):
        assert "assignee" not in client.get(url(lead)).context["adminform"].form.fields
        save(client, lead, {"status": "contacted", "assignee": sales_user.pk})

    lead.refresh_from_db()
    assert lead.assignee is None


def test_nobody_in_sales_can_delete_or_add_leads(sales_client, manager_client, make_lead):
    lead = make_lead()

    assert sales_client.post(f"/admin/leads/lead/{lead.pk}/delete/", {"post": "yes"}).status_code == 403
    assert manager_client.post(f"/admin/leads/lead/{lead.pk}/delete/", {"post": "yes"}).status_code == 403
    assert manager_client.get("/admin/leads/lead/add/").status_code == 200  # the walk-in form
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


def test_moving_a_lead_out_of_new_is_its_first_contact_and_is_never_overwritten(sales_client, sales_user, make_lead):
    lead = make_lead(assignee=sales_user)

    save(sales_client, lead, {"status": "contacted"})
    lead.refresh_from_db()
    first = lead.first_contacted_at
    save(sales_client, lead, {"status": "new"})
    save(sales_client, lead, {"status": "test_drive_booked"})
    lead.refresh_from_db()

    assert first is not None
    assert lead.first_contacted_at == first
    assert lead.first_contact_business_minutes == business_minutes_between(lead.received_at, first)


def ist(*parts: int) -> datetime:
    return timezone.make_aware(datetime(*parts))


def test_first_contact_keeps_its_business_minutes_for_the_report(sales_user, make_lead, settings):
    settings.LEAD_BUSINESS_HOURS = (9, 19)
    settings.LEAD_BUSINESS_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat"]
    lead = make_lead(assignee=sales_user, received_at=ist(2025, 11, 7, 22, 0))  # Friday night

    lead_called(lead=lead, actor=sales_user, now=ist(2025, 11, 8, 9, 10))  # Saturday 09:10
    lead.refresh_from_db()

    assert lead.first_contact_business_minutes == 10


def test_the_called_button_records_first_contact_and_who_called(sales_client, sales_user, make_lead):
    lead = make_lead(assignee=sales_user)
    called = f"/admin/leads/lead/{lead.pk}/called/"

    page = sales_client.get(url(lead)).content.decode()
    response = sales_client.post(called)
    lead.refresh_from_db()
    first = lead.first_contacted_at
    sales_client.post(called)
    lead.refresh_from_db()

    assert f'action="{called}"' in page and ">Called</button>" in page
    assert response.status_code == 302 and response["Location"] == url(lead)
    assert first is not None and lead.first_contacted_at == first
    assert lead.status == "new"
    assert list(lead.events.values_list("kind", "actor__username", "text")) == [
        ("called", "sam-sales", "Called the buyer (first contact)."),
        ("called", "sam-sales", "Called the buyer."),
    ]
    assert sales_client.get(called).status_code == 405


def test_the_timeline_shows_who_changed_status_assignee_and_notes_escaped(manager_client, sales_user, make_lead):
    lead = make_lead(name="<img src=x onerror=alert(1)>")
    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.ASSIGNED, text="Assigned to <b>x</b> (round-robin).")

    save(manager_client, lead, {"status": "contacted", "assignee": sales_user.pk, "new_note": "Call back at <i>6"})
    html = manager_client.get(url(lead)).content.decode()

    assert list(lead.events.order_by("id").values_list("kind", "actor__username", "text")) == [
        ("assigned", None, "Assigned to <b>x</b> (round-robin)."),
        ("status", "meera-manager", "Status: New → Contacted."),
        ("assignee", "meera-manager", "Assignee: nobody → sam-sales."),
    ]
    assert "<strong>Note</strong> · meera-manager · Call back at &lt;i&gt;6" in html
    assert "Assigned to &lt;b&gt;x&lt;/b&gt; (round-robin)." in html
    assert "<strong>Status changed</strong> · meera-manager · Status: New → Contacted." in html
    assert "<img src=x" not in html


def test_a_salesperson_may_take_an_unassigned_lead_only_for_themselves(
    sales_client, sales_user, manager_user, make_lead
):
    lead = make_lead()

    to_colleague = save(sales_client, lead, {"status": "new", "assignee": manager_user.pk})
    lead.refresh_from_db()
    assignee_after_refusal = lead.assignee
    for_themselves = save(sales_client, lead, {"status": "new", "assignee": sales_user.pk})
    lead.refresh_from_db()

    assert to_colleague.status_code == 200  # the form again, with its error
    assert "assignee" in to_colleague.context["adminform"].form.errors
    assert assignee_after_refusal is None
    assert for_themselves.status_code == 302
    assert lead.assignee == sales_user


@pytest.fixture
def asha(roles):
    """A second salesperson; she and sam-sales (``sales_user``) both have an email address."""
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("asha", email="asha@raamgroup.in", is_staff=True)
    user.groups.add(Group.objects.get(name="Sales"))
    return user


@pytest.fixture
def sam(sales_user):
    sales_user.email = "sam@raamgroup.in"
    sales_user.save()
    return sales_user


@pytest.mark.django_db(transaction=True)
def test_a_lead_handed_over_by_hand_is_announced_to_both_salespeople(
    manager_client, sam, asha, make_lead, empty_job_queue, mailoutbox
):
    lead = make_lead(name="Ravi Kumar", assignee=None)

    save(manager_client, lead, {"status": "new", "assignee": sam.pk})
    run_queued_jobs()
    save(manager_client, lead, {"status": "new", "assignee": asha.pk})
    run_queued_jobs()

    sent = [(message.to, message.subject) for message in mailoutbox]
    assert [to for to, _ in sent] == [["sam@raamgroup.in"], ["asha@raamgroup.in"], ["sam@raamgroup.in"]]
    assert "Ravi Kumar" in sent[0][1] and "Ravi Kumar" in sent[1][1]
    assert "meera-manager handed a lead assigned to you to asha" in mailoutbox[2].body
    assert lead.events.filter(text="Hand-over alert emailed to asha@raamgroup.in.").exists()
    # asha is told who handed it on and how old it is, not that a new lead arrived.
    came = timezone.localtime(lead.received_at).strftime("%d %b %Y at %H:%M")
    assert mailoutbox[1].body.startswith(
        f"meera-manager handed this lead to you. It came in on {came} IST and is New: nobody has called yet"
    )
    assert "new lead" not in mailoutbox[1].body.lower()
    assert lead.events.filter(kind=LeadEvent.Kind.ALERT_SENT).count() == 3


def test_a_salesperson_taking_a_lead_for_themselves_is_not_emailed_about_it(
    sales_client, sales_user, make_lead, empty_job_queue
):
    from procrastinate.contrib.django.models import ProcrastinateJob

    lead = make_lead(assignee=None)

    save(sales_client, lead, {"status": "contacted", "assignee": sales_user.pk})

    assert Lead.objects.get(pk=lead.pk).assignee == sales_user
    assert not ProcrastinateJob.objects.exists()


def test_the_same_save_sent_twice_is_saved_once_without_a_conflict(sales_client, sales_user, make_lead):
    lead = make_lead(assignee=sales_user)
    form = sales_client.get(url(lead)).context["adminform"].form
    posted = {**{name: form[name].value() or "" for name in form.fields}, "status": "contacted"}

    first, second = sales_client.post(url(lead), posted), sales_client.post(url(lead), posted)

    assert (first.status_code, second.status_code) == (302, 302)
    lead.refresh_from_db()
    assert lead.status == "contacted"
    kinds = list(lead.events.filter(actor=sales_user).values_list("kind", flat=True))
    assert kinds == [LeadEvent.Kind.STATUS_CHANGED]


@pytest.mark.django_db(transaction=True)
def test_a_lead_handed_on_twice_before_the_worker_runs_is_announced_once_to_whoever_has_it(
    manager_client, sam, asha, make_lead, empty_job_queue, mailoutbox
):
    lead = make_lead(name="Ravi Kumar", assignee=None, status="lost")

    save(manager_client, lead, {"status": "lost", "lost_reason": "price", "assignee": sam.pk})
    save(manager_client, lead, {"status": "lost", "lost_reason": "price", "assignee": asha.pk})
    run_queued_jobs()

    sent = [(message.to, message.subject) for message in mailoutbox]
    assert sent == [
        (["asha@raamgroup.in"], "[Raam CRM] Lead handed to you: Ravi Kumar, no model"),
        (["sam@raamgroup.in"], "[Raam CRM] Lead reassigned: Ravi Kumar"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_lead_handed_back_before_the_worker_runs_tells_nobody_it_was_taken_from_them(
    manager_client, sam, asha, make_lead, empty_job_queue, mailoutbox
):
    lead = make_lead(name="Ravi Kumar", assignee=sam)

    save(manager_client, lead, {"status": "new", "assignee": asha.pk})
    save(manager_client, lead, {"status": "new", "assignee": sam.pk})
    run_queued_jobs()

    sent = [(message.to, message.subject) for message in mailoutbox]
    assert (["sam@raamgroup.in"], "[Raam CRM] Lead reassigned: Ravi Kumar") not in sent
    assert (["sam@raamgroup.in"], "[Raam CRM] Lead handed to you: Ravi Kumar, no model") in sent


def test_a_colleagues_lead_is_read_only_for_a_salesperson(sales_client, sales_user, asha, make_lead, manager_client):
    lead = make_lead(name="Sneha Patil", assignee=asha)

    page = sales_client.get(url(lead))
    saved = sales_client.post(url(lead), {"status": "lost", "new_note": "Not interested", "follow_up_seen": ""})
    called = sales_client.post(f"/admin/leads/lead/{lead.pk}/called/")

    assert page.status_code == 200  # they may read it: the buyer may call them
    assert not page.context["has_change_permission"]
    assert b"Sneha Patil" in page.content and f"/admin/leads/lead/{lead.pk}/called/" not in page.content.decode()
    # The save cannot apply: the typed note is kept under its author, the rest is not saved (issue 23 item 1).
    assert (saved.status_code, called.status_code) == (302, 403)
    lead.refresh_from_db()
    assert (lead.status, lead.first_contacted_at) == ("new", None)
    assert list(lead.lead_notes.values_list("text", "author")) == [("Not interested", sales_user.pk)]
    # Their own leads, unassigned leads and (for a manager) anyone's stay theirs to work.
    mine = make_lead(assignee=sales_user)
    assert save(sales_client, mine, {"status": "contacted"}).status_code == 302
    assert save(manager_client, lead, {"status": "contacted"}).status_code == 302
    lead.refresh_from_db()
    assert lead.status == "contacted"


@pytest.mark.django_db(transaction=True)
def test_a_manager_taking_a_lead_over_tells_its_salesperson_so(
    manager_client, manager_user, sam, make_lead, empty_job_queue, mailoutbox
):
    lead = make_lead(name="Ravi Kumar", assignee=sam)
    lead_called(lead=lead, actor=sam)

    save(manager_client, lead, {"status": "contacted", "assignee": manager_user.pk})
    run_queued_jobs()

    (notice,) = [message for message in mailoutbox if message.to == ["sam@raamgroup.in"]]
    assert notice.body.startswith("meera-manager took over a lead assigned to you; it is no longer yours to work.")


def test_a_read_only_assignee_is_a_name_not_a_link_to_a_page_sales_may_not_open(
    sales_client, sales_user, asha, make_lead, admin_client
):
    for lead in (make_lead(assignee=sales_user), make_lead(assignee=asha)):
        page = sales_client.get(url(lead)).content.decode()
        assert f"/admin/auth/user/{lead.assignee_id}/change/" not in page
        assert f'<div class="readonly">{lead.assignee.get_username()}</div>' in page

    # A superuser may open users: a read-only assignee (a test lead's, say) stays a link for them.
    test_lead = make_lead(assignee=asha, is_test=True)
    assert f"/admin/auth/user/{asha.pk}/change/" in admin_client.get(url(test_lead)).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_lead_handed_over_by_someone_whose_account_is_gone_is_not_blamed_on_the_sla(
    manager_client, manager_user, asha, make_lead, empty_job_queue, mailoutbox
):
    lead = make_lead(name="Ravi Kumar", assignee=None)
    save(manager_client, lead, {"status": "new", "assignee": asha.pk})
    manager_user.delete()  # before the worker runs: the timeline keeps the change, not who made it

    run_queued_jobs()

    (alert,) = [message for message in mailoutbox if message.to == ["asha@raamgroup.in"]]
    assert alert.body.startswith("This lead was handed to you. It came in on")


@pytest.mark.django_db(transaction=True)
def test_a_lead_taken_off_its_salesperson_and_left_unassigned_says_so(
    manager_client, sam, make_lead, empty_job_queue, mailoutbox
):
    lead = make_lead(name="Ravi Kumar", assignee=sam)

    save(manager_client, lead, {"status": "new", "assignee": ""})
    run_queued_jobs()

    (notice,) = [message for message in mailoutbox if message.to == ["sam@raamgroup.in"]]
    assert notice.body.startswith("meera-manager took a lead assigned to you off you and left it unassigned;")


def test_a_salesperson_who_works_an_unassigned_lead_takes_it(sales_client, sales_user, manager_client, make_lead):
    # Otherwise a call or a loss on it belongs to nobody, and the report credits nobody with it.
    called, closed, managers = make_lead(), make_lead(), make_lead()

    sales_client.post(f"/admin/leads/lead/{called.pk}/called/")
    save(sales_client, closed, {"status": "lost", "lost_reason": "bought_elsewhere", "new_note": "Bought elsewhere"})
    save(manager_client, managers, {"status": "lost", "lost_reason": "other", "new_note": "Spam"})

    for lead in (called, closed, managers):
        lead.refresh_from_db()
    assert (called.assignee, closed.assignee, managers.assignee) == (sales_user, sales_user, None)
    assert called.events.filter(kind=LeadEvent.Kind.ASSIGNEE_CHANGED, actor=sales_user).exists()
    assert called.first_contacted_at is not None
