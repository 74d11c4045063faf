"""The salesperson's day (issue 23): work never lost, follow-ups, call outcomes, the notes log, WhatsApp and call
buttons, reassigning, the dealership's fields, one buyer's enquiries, search across scripts, dates with IST."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import unquote

import pytest
from django.utils import timezone

from leads.common.days import ist_datetime
from leads.models import CallAttempt, Lead, LeadEvent, LeadNote
from leads.sales import sla
from tests.jobs import run_queued_jobs

pytestmark = pytest.mark.django_db

LIST = "/admin/leads/lead/"


def url(lead: Lead) -> str:
    return f"/admin/leads/lead/{lead.pk}/change/"


def opened(client, lead: Lead) -> dict:
    """The lead page's form as a person opened it: every field's value, as the browser would send it back."""
    form = client.get(url(lead)).context["adminform"].form
    sent: dict = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, datetime):
            sent.update(in_ist(name, value))
        elif value is not None and value is not False:
            sent[name] = value
    return sent


def in_ist(field: str, moment) -> dict[str, str]:
    """A date-time field as the admin's split widget sends it: the IST date and time apart."""
    local = timezone.localtime(moment)
    return {f"{field}_0": local.strftime("%Y-%m-%d"), f"{field}_1": local.strftime("%H:%M")}


# --- 1. work is never lost ---------------------------------------------------------------------------------


def test_a_note_typed_on_a_lead_reassigned_meanwhile_is_kept_with_its_author(
    sales_client, sales_user, manager_client, make_salesperson, make_lead
):
    asha = make_salesperson("asha")
    lead = make_lead(assignee=sales_user)
    page = opened(sales_client, lead)  # she has the lead open …
    handed = {**opened(manager_client, lead), "assignee": asha.pk}
    assert manager_client.post(url(lead), handed).status_code == 302  # … while her manager hands it to Asha

    response = sales_client.post(
        url(lead), {**page, "status": "contacted", "new_note": "Buyer wants the red one"}, follow=True
    )

    assert response.status_code == 200
    text = response.content.decode()
    assert "This lead was handed to asha after you opened it" in text
    assert "Your note was kept on the lead" in text
    lead.refresh_from_db()
    assert (lead.assignee, lead.status) == (asha, "new")
    assert list(lead.lead_notes.values_list("text", "author")) == [("Buyer wants the red one", sales_user.pk)]


# --- 2. follow-ups ----------------------------------------------------------------------------------------


def test_a_call_that_did_not_reach_the_buyer_needs_a_follow_up(sales_client, sales_user, make_lead):
    lead = make_lead(assignee=sales_user)

    refused = sales_client.post(url(lead), {**opened(sales_client, lead), "call_outcome": "no_answer"})

    assert refused.status_code == 200
    assert "The call did not reach the buyer: set when to try again." in refused.content.decode()
    assert not CallAttempt.objects.filter(lead=lead).exists()


def test_a_salesperson_lands_on_who_to_call_and_sees_tomorrows_follow_ups(sales_client, sales_user, make_lead):
    now = timezone.now()
    tomorrow = timezone.localtime(now).replace(hour=11, minute=0) + timedelta(days=1)
    due = make_lead(
        name="Due Later Today", assignee=sales_user, status="contacted", next_follow_up_at=now + timedelta(seconds=60)
    )
    late = make_lead(
        name="Late Caller", assignee=sales_user, status="contacted", next_follow_up_at=now - timedelta(hours=1)
    )
    make_lead(name="Tomorrow Buyer", assignee=sales_user, status="contacted", next_follow_up_at=tomorrow)

    landing = sales_client.get(LIST).content.decode()
    overdue = sales_client.get(LIST, {"mine": "open", "follow_up": "overdue"}).content.decode()
    tomorrows = sales_client.get(LIST, {"mine": "open", "follow_up": "tomorrow"}).content.decode()

    assert "Late Caller" in landing and "Tomorrow Buyer" not in landing  # put off to tomorrow
    if timezone.localtime(now).date() == timezone.localtime(due.next_follow_up_at).date():
        assert "Due Later Today" in landing
    assert "Late Caller" in overdue and "Tomorrow Buyer" not in overdue and late.name in overdue
    assert "Tomorrow Buyer" in tomorrows and "Late Caller" not in tomorrows


@pytest.mark.django_db(transaction=True)
def test_a_follow_up_come_due_emails_its_salesperson_once_per_due_time(
    make_salesperson, make_lead, empty_job_queue, mailoutbox
):
    asha = make_salesperson("asha")
    due_at = timezone.now() - timedelta(minutes=1)
    lead = make_lead(assignee=asha, status="contacted", next_follow_up_at=due_at)

    assert sla.follow_ups_alert() == 1
    assert sla.follow_ups_alert() == 0  # the next run finds it told
    run_queued_jobs()

    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["asha@raamgroup.in"], "[Raam CRM] Follow-up due: Ravi Kumar, no model")
    ]
    assert ist_datetime(due_at) in mailoutbox[0].body
    # Moved to a new time, it is told again when that time comes.
    Lead.objects.filter(pk=lead.pk).update(next_follow_up_at=timezone.now() - timedelta(seconds=5))
    assert sla.follow_ups_alert() == 1


# --- 3. calls with outcomes -------------------------------------------------------------------------------


def test_each_call_is_an_attempt_the_first_is_first_contact_and_connected_is_the_first_conversation(
    sales_client, sales_user, make_lead
):
    lead = make_lead(assignee=sales_user)
    tomorrow = timezone.localtime() + timedelta(days=1)

    sales_client.post(
        url(lead),
        {**opened(sales_client, lead), "call_outcome": "no_answer", **in_ist("next_follow_up_at", tomorrow)},
    )
    lead.refresh_from_db()
    first_attempt = lead.first_contacted_at
    sales_client.post(url(lead), {**opened(sales_client, lead), "call_outcome": "connected"})

    lead.refresh_from_db()
    assert list(lead.call_attempts.order_by("at").values_list("outcome", "by")) == [
        ("no_answer", sales_user.pk),
        ("connected", sales_user.pk),
    ]
    assert first_attempt is not None and lead.first_contacted_at == first_attempt
    assert lead.first_connected_at is not None and lead.first_connected_at > first_attempt
    assert lead.next_follow_up_at is not None


def test_a_wrong_number_flags_the_lead_in_the_list_and_on_its_page(manager_client, make_lead):
    lead = make_lead(name="Wrong Person")

    manager_client.post(url(lead), {**opened(manager_client, lead), "call_outcome": "wrong_number"})

    lead.refresh_from_db()
    assert lead.wrong_number
    assert '<span class="flag-badge">Wrong number</span>' in manager_client.get(LIST, {"mine": "all"}).content.decode()
    assert "a call found this number is not the buyer" in manager_client.get(url(lead)).content.decode()


def test_the_report_shows_time_to_first_attempt_and_to_first_conversation_apart(manager_user, make_lead, client):
    from django.contrib.auth.models import Permission

    now = timezone.now()
    make_lead(received_at=now - timedelta(hours=2), first_contacted_at=now - timedelta(hours=1, minutes=50))
    Lead.objects.update(first_connected_at=now - timedelta(hours=1))
    client.force_login(manager_user)
    manager_user.user_permissions.add(*Permission.objects.filter(codename="reassign_lead"))

    html = client.get("/admin/reports/leads/").content.decode()

    assert "Median time to first attempt" in html and "Median time to first conversation" in html


# --- 4. notes as a log ------------------------------------------------------------------------------------


def test_notes_are_entries_newest_first_and_nobody_edits_them(sales_client, sales_user, make_lead):
    lead = make_lead(assignee=sales_user)
    sales_client.post(url(lead), {**opened(sales_client, lead), "new_note": "First call: busy"})
    sales_client.post(url(lead), {**opened(sales_client, lead), "new_note": "Second: wants finance"})

    html = sales_client.get(url(lead)).content.decode()

    assert html.index("Second: wants finance") < html.index("First call: busy")
    assert LeadNote.objects.filter(lead=lead, author=sales_user).count() == 2
    assert sales_client.get("/admin/leads/leadnote/").status_code == 404  # no screen edits a note


# --- 6. WhatsApp and call buttons ---------------------------------------------------------------------------


def test_whatsapp_is_prefilled_in_hindi_for_a_devanagari_name_and_each_tap_is_an_attempt(
    sales_client, sales_user, make_lead
):
    lead = make_lead(name="सुनीता राव", car_model="Creta", assignee=sales_user)

    page = sales_client.get(url(lead)).content.decode()
    listed = sales_client.get(LIST, {"mine": "all"}).content.decode()
    tapped = sales_client.post(f"/admin/leads/lead/{lead.pk}/tap/whatsapp/")

    link = page.split('href="https://wa.me/919876543210?text=')[1].split('"')[0]
    assert "नमस्ते सुनीता राव जी" in unquote(link) and "Creta" in unquote(link)
    assert 'href="tel:+919876543210"' in listed and "https://wa.me/919876543210" in listed
    assert tapped.status_code == 204
    assert list(lead.call_attempts.values_list("channel", "outcome")) == [("whatsapp", "tapped")]
    lead.refresh_from_db()
    assert lead.first_contacted_at is not None


# --- 7. reassigning -----------------------------------------------------------------------------------------


def test_reassigning_shows_duty_and_workload_clears_overdue_and_can_move_the_buyers_other_leads(
    manager_client, make_salesperson, make_lead
):
    sam, asha = make_salesperson("sam", on_duty=True), make_salesperson("asha", on_duty=False)
    old = timezone.now() - timedelta(days=3)
    lead = make_lead(assignee=sam, received_at=old)
    other = make_lead(assignee=sam, platform="CarWale", received_at=old)
    assert Lead.objects.overdue().filter(pk=lead.pk).exists()

    page = manager_client.get(url(lead))
    choices = [label for _, label in page.context["adminform"].form.fields["assignee"].choices]
    manager_client.post(url(lead), {**opened(manager_client, lead), "assignee": asha.pk, "move_other_leads": "on"})

    assert "sam · on duty · 2 open" in choices and "asha · off duty · 0 open" in choices
    lead.refresh_from_db()
    other.refresh_from_db()
    assert (lead.assignee, other.assignee) == (asha, asha)
    assert not Lead.objects.overdue().filter(pk=lead.pk).exists()


# --- 8. dealership fields and walk-ins -----------------------------------------------------------------------


def test_lost_needs_a_reason_and_test_drives_today_are_listed(manager_client, make_lead):
    lead = make_lead(name="Drive Today")
    make_lead(name="No Drive")

    refused = manager_client.post(url(lead), {**opened(manager_client, lead), "status": "lost"})
    manager_client.post(
        url(lead),
        {
            **opened(manager_client, lead),
            **in_ist("test_drive_at", timezone.now()),
            "trade_in": "on",
            "finance_interest": "on",
        },
    )

    assert "Say why the lead was lost." in refused.content.decode()
    lead.refresh_from_db()
    assert (lead.status, lead.trade_in, lead.finance_interest) == ("new", True, True)
    drives = manager_client.get(LIST, {"mine": "all", "test_drive": "today"}).content.decode()
    assert "Drive Today" in drives and "No Drive" not in drives


def test_a_walk_in_goes_the_webhooks_way_under_its_own_source(sales_client, make_salesperson, sales_user):
    response = sales_client.post(
        "/admin/leads/lead/add/",
        {"name": "Walk In Buyer", "phone_number": "98765 11111", "car_model": "Nexon", "new_note": "Came with family"},
    )

    lead = Lead.objects.get(name="Walk In Buyer")
    assert response.status_code == 302 and response["Location"].endswith(url(lead))
    assert (lead.platform, lead.phone_e164, lead.deliveries.count()) == (
        "Walk-in",
        "+919876511111",
        1,
    )
    assert lead.assignee is not None  # round-robin, as a webhook lead
    assert lead.events.filter(kind=LeadEvent.Kind.ADDED_BY_STAFF, actor=sales_user).exists()
    assert lead.lead_notes.get().text == "Came with family"


# --- 9. one buyer, one view ----------------------------------------------------------------------------------


def test_the_lead_page_lists_the_buyers_other_enquiries_with_salesperson_and_status(
    manager_client, make_salesperson, make_lead
):
    asha = make_salesperson("asha")
    lead = make_lead()
    make_lead(platform="Walk-in", assignee=asha, status="contacted", car_model="Creta")

    html = manager_client.get(url(lead)).content.decode()

    assert "Walk-in · Ravi Kumar · Creta</a> · asha · Contacted" in html


@pytest.mark.parametrize(("stored", "typed"), [("राजेश शर्मा", "rajesh"), ("Rajesh Sharma", "राजेश")])
def test_search_matches_latin_and_devanagari_spellings(manager_client, make_lead, stored, typed):
    make_lead(name=stored)
    make_lead(name="Sunita Rao", phone_number="9123456780")

    html = manager_client.get(LIST, {"mine": "all", "q": typed}).content.decode()

    assert stored in html and "Sunita Rao" not in html


# --- 11. smaller fixes ----------------------------------------------------------------------------------------


def test_dates_read_one_way_with_the_zone_and_the_overdue_link_drops_the_search(manager_client, make_lead):
    lead = make_lead(received_at=timezone.now() - timedelta(days=2))

    page = manager_client.get(url(lead)).content.decode()
    listed = manager_client.get(LIST, {"mine": "all", "q": "nobody-like-this"}).content.decode()

    assert ist_datetime(lead.received_at).endswith(" IST") and ist_datetime(lead.received_at) in page
    assert 'href="?mine=all&amp;sla=overdue"' in listed


# --- 10. made for a phone (the rest is tests/test_admin_browser.py's, in Chromium at 390 px) --------------------


def test_each_on_duty_switch_says_whose_it_is(manager_client, make_salesperson):
    make_salesperson("asha", on_duty=True)

    html = manager_client.get("/admin/leads/salesprofile/").content.decode()

    assert 'aria-label="asha is on duty"' in html
