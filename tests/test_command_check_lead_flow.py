"""check_lead_flow: alerts ADMINS and exits non-zero on a 5xx spike or a silent regular partner."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from leads.common.business_time import business_minutes_ago, is_business_time
from leads.intake.keys import api_key_create
from leads.models import Delivery
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Asia/Kolkata")


@pytest.fixture(autouse=True)
def _admins(settings):
    settings.ADMINS = [("", "ops@raamgroup.in")]


def deliveries(platform: str, status: int, count: int, *, ago: timedelta = timedelta(minutes=1)) -> None:
    Delivery.objects.bulk_create(
        Delivery(
            platform=platform,
            status_code=status,
            outcome="created" if status == 201 else "error",
            received_at=timezone.now() - ago,
            key_prefix="env",
        )
        for _ in range(count)
    )


def run(*args: str) -> str:
    out = StringIO()
    call_command("check_lead_flow", *args, stdout=out)
    return out.getvalue().strip()


def test_quiet_healthy_flow_prints_one_line_and_sends_nothing():
    deliveries("CarDekho", 201, 20)
    deliveries("CarWale", 201, 10)

    summary = run("--window-minutes", "15")

    assert (
        summary
        == "Lead flow OK: 30 deliveries in the last 15 min, 0 with 5xx; every regular partner has sent leads recently."
    )
    assert mail.outbox == []


def test_5xx_share_over_the_threshold_alerts_and_fails():
    deliveries("CarDekho", 201, 10)
    deliveries("CarDekho", 503, 4)

    with pytest.raises(CommandError, match=r"4 of 14 deliveries in the last 15 min got a 5xx \(29%, threshold 5%\)"):
        run()

    (message,) = mail.outbox
    assert message.to == ["ops@raamgroup.in"]
    assert "4 of 14" in message.body


def test_a_couple_of_5xx_in_a_quiet_window_do_not_page_anyone():
    deliveries("CarDekho", 500, 2)

    assert run().startswith("Lead flow OK")


def test_old_5xx_outside_the_window_do_not_count():
    deliveries("CarDekho", 201, 10)
    deliveries("CarDekho", 500, 10, ago=timedelta(hours=2))

    assert run("--window-minutes", "30").startswith("Lead flow OK")


def test_regular_partner_silent_for_business_hours_alerts(monkeypatch):
    wednesday_3pm = datetime(2026, 11, 25, 15, 0, tzinfo=IST)
    monkeypatch.setattr(timezone, "now", lambda: wednesday_3pm)
    deliveries("CarWale", 201, 10, ago=timedelta(days=2))
    deliveries("CarDekho", 201, 10)

    with pytest.raises(CommandError, match="CarWale has sent no lead for 4 business hours"):
        run()

    assert "CarWale" in mail.outbox[0].subject


def test_a_silence_is_mailed_once_a_day_while_new_problems_are_mailed_as_they_come(monkeypatch):
    # A partner quiet from Saturday afternoon would otherwise be mailed every 15 minutes until Monday.
    now = datetime(2026, 11, 25, 15, 0, tzinfo=IST)
    monkeypatch.setattr(timezone, "now", lambda: now)
    deliveries("CarWale", 201, 10, ago=timedelta(days=2))

    for minutes in (0, 15, 30):
        now = datetime(2026, 11, 25, 15, minutes, tzinfo=IST)
        with pytest.raises(CommandError, match="CarWale has sent no lead"):
            run()
    assert len(mail.outbox) == 1
    with pytest.raises(CommandError, match="ADMINS were already told today"):
        run()

    deliveries("CarDekho", 503, 5)  # meanwhile, a new problem: mailed at once, without the old silence
    with pytest.raises(CommandError, match="ADMINS were emailed"):
        run()
    assert len(mail.outbox) == 2 and "CarWale" not in mail.outbox[1].body

    now = datetime(2026, 11, 26, 10, 0, tzinfo=IST)  # the next business morning, still silent
    with pytest.raises(CommandError):
        run()
    assert len(mail.outbox) == 3 and "CarWale has sent no lead" in mail.outbox[2].body


def test_partner_that_never_sends_is_not_called_silent():
    deliveries("CarDekho", 201, 10)

    assert run().startswith("Lead flow OK")


def test_overnight_and_sunday_hours_do_not_count_as_silence(monkeypatch):
    monday_10am = datetime(2026, 11, 30, 10, 0, tzinfo=IST)
    monkeypatch.setattr(timezone, "now", lambda: monday_10am)
    # Last lead on Saturday at 17:00: only 2 business hours on Saturday and 1 on Monday since.
    deliveries("CarWale", 201, 10, ago=monday_10am - datetime(2026, 11, 28, 17, 0, tzinfo=IST))

    assert run().startswith("Lead flow OK")


def test_business_hours_are_ist_monday_to_saturday():
    assert is_business_time(datetime(2026, 11, 28, 9, 30, tzinfo=IST))  # Saturday
    assert not is_business_time(datetime(2026, 11, 29, 12, 0, tzinfo=IST))  # Sunday
    assert not is_business_time(datetime(2026, 11, 27, 19, 0, tzinfo=IST))  # after closing
    monday_noon = datetime(2026, 11, 30, 12, 0, tzinfo=IST)
    assert business_minutes_ago(4 * 60, now=monday_noon) == datetime(2026, 11, 28, 18, 0, tzinfo=IST)


def test_window_must_be_positive():
    with pytest.raises(CommandError, match=r"--window-minutes must be at least 1\."):
        run("--window-minutes", "0")


def refused(platform: str, count: int, error: str, *, key_prefix: str = "env", request_id: str = "") -> None:
    Delivery.objects.bulk_create(
        Delivery(
            platform=platform,
            status_code=400,
            outcome="rejected",
            error=error,
            key_prefix=key_prefix,
            request_id=request_id,
        )
        for _ in range(count)
    )


def test_a_partner_whose_leads_we_refuse_alerts_with_the_way_to_recover_them():
    deliveries("CarWale", 201, 2)
    refused("CarWale", 6, "Missing required fields: phone_number")
    refused("CarWale", 1, "Malformed JSON: Expecting value at line 1 column 1")

    with pytest.raises(CommandError, match="7 of 9 CarWale deliveries in the last 15 min were refused"):
        run()

    (message,) = mail.outbox
    assert 'most with "Missing required fields: phone_number"' in message.body
    assert "manage.py field_alias add carwale" in message.body
    assert "manage.py replay_deliveries --partner carwale" in message.body


def test_a_few_refusals_among_many_leads_page_no_one():
    deliveries("CarDekho", 201, 40)
    refused("CarDekho", 3, "Missing required fields: name")

    assert run().startswith("Lead flow OK")


def kept_at_the_ceiling(platform: str, count: int, *, key_prefix: str = "env") -> None:
    """Leads refused at the partner's hard ceiling, as the webhook ledgers them: 429, with the body."""
    Delivery.objects.bulk_create(
        Delivery(
            platform=platform,
            status_code=429,
            outcome="throttled",
            error="Rate limit exceeded",
            key_prefix=key_prefix,
            body=b'{"customer_name": "Sunita", "mobile": "9123456780"}',
        )
        for _ in range(count)
    )


def test_leads_past_the_keys_quota_of_kept_bodies_are_counted_in_the_alert_as_not_replayable(settings):
    deliveries("CarWale", 201, 40)
    kept_at_the_ceiling("CarWale", 2)
    Delivery.objects.create(
        platform="CarWale",
        status_code=429,
        outcome="throttled",
        error="Rate limit exceeded",
        key_prefix="env",
        body_truncated=True,
        repeats=180,
    )

    with pytest.raises(CommandError, match=r"2 more CarWale leads were refused at its hard ceiling"):
        run()

    (message,) = mail.outbox
    assert "180 more past LEAD_REFUSED_BODIES_KEPT (100/m) kept no body and cannot be replayed" in message.body


def test_leads_refused_at_the_hard_ceiling_alert_with_the_way_to_store_them(settings):
    # The partner will not send them again (its guide says to retry only 5xx): each is a buyer until replayed.
    settings.LEAD_RATE_LIMIT_HARD = "600/m"
    deliveries("CarWale", 201, 40)
    kept_at_the_ceiling("CarWale", 1)

    with pytest.raises(CommandError, match=r"1 more CarWale lead was refused at its hard ceiling"):
        run()

    (message,) = mail.outbox
    assert "(LEAD_RATE_LIMIT_HARD, 600/m) with 429" in message.body
    assert "manage.py replay_deliveries --partner carwale --status 429" in message.body
    # A field alias is no answer to a rate limit, so the renamed-field advice stays out of it.
    assert "field_alias" not in message.body


def test_each_lead_refused_at_the_ceiling_is_mailed_once_however_late_the_check_runs(settings):
    deliveries("CarWale", 201, 40)
    kept_at_the_ceiling("CarWale", 2)
    # One the check missed: the worker was down for a deploy when its window was checked.
    missed = Delivery.objects.filter(status_code=429).earliest("id")
    Delivery.objects.filter(pk=missed.pk).update(received_at=timezone.now() - timedelta(hours=3))

    with pytest.raises(CommandError, match=r"2 more CarWale leads were refused"):
        run()
    assert run().startswith("Lead flow OK")  # told already: not again every 15 minutes

    kept_at_the_ceiling("CarWale", 1)
    with pytest.raises(CommandError, match=r"1 more CarWale lead was refused"):
        run()
    assert len(mail.outbox) == 2


def test_a_mail_that_failed_is_tried_again_by_the_next_run(settings, monkeypatch):
    from devservers import free_port

    now = datetime(2026, 11, 25, 15, 0, tzinfo=IST)
    monkeypatch.setattr(timezone, "now", lambda: now)
    deliveries("CarWale", 201, 10, ago=timedelta(days=2))  # silent since
    kept_at_the_ceiling("CarDekho", 1)
    # A real mail server that is not there: the send fails as it would in production.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", free_port(), False
    with pytest.raises(ConnectionRefusedError):
        run()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with pytest.raises(CommandError, match="ADMINS were emailed"):
        run()
    (message,) = mail.outbox
    assert "CarWale has sent no lead" in message.body and "1 more CarDekho lead was refused" in message.body


def test_the_ceiling_for_a_partners_staging_key_or_a_strangers_flood_pages_no_one():
    staging = api_key_create(partner=CARWALE, is_test=True)
    kept_at_the_ceiling("CarWale", 5, key_prefix=staging.api_key.prefix)
    # Failed keys past their own limit: 429 too, but no lead in them (no body kept).
    Delivery.objects.create(platform="CarDekho", status_code=429, outcome="throttled", key_prefix="ab12")

    assert run().startswith("Lead flow OK")


def test_a_strangers_flood_of_bad_keys_does_not_hide_a_partners_renamed_field():
    # Strangers' rows carry the prefix they claimed; they say nothing about the partner's own leads.
    deliveries("CarWale", 201, 19)
    refused("CarWale", 5, "Missing required fields: phone_number")
    Delivery.objects.bulk_create(
        Delivery(
            platform="CarWale", status_code=403, outcome="unauthorised", error="Invalid API key", key_prefix="deadbeef"
        )
        for _ in range(30)
    )
    Delivery.objects.create(platform="CarWale", status_code=429, outcome="throttled", key_prefix="deadbeef", repeats=9)

    with pytest.raises(CommandError, match="5 of 24 CarWale deliveries in the last 15 min were refused"):
        run()


def test_bad_keys_from_strangers_are_not_the_partners_refusals():
    Delivery.objects.bulk_create(
        Delivery(platform="CarDekho", status_code=403, outcome="unauthorised", error="Invalid API key")
        for _ in range(10)
    )

    assert run().startswith("Lead flow OK")


def test_a_partners_staging_key_refusals_page_no_one():
    staging = api_key_create(partner=CARWALE, is_test=True)
    refused("CarWale", 6, "Missing required fields: phone_number", key_prefix=staging.api_key.prefix)

    assert run().startswith("Lead flow OK")


def test_a_partner_whose_production_feed_stopped_is_silent_even_while_staging_and_replays_go_on(monkeypatch):
    staging = api_key_create(partner=CARDEKHO, is_test=True)
    deliveries("CarDekho", 201, 10, ago=timedelta(days=2))
    Delivery.objects.bulk_create(
        [
            Delivery(platform="CarDekho", status_code=201, outcome="created", key_prefix=staging.api_key.prefix),
            Delivery(platform="CarDekho", status_code=201, outcome="created", request_id="replay-of-7", is_replay=True),
        ]
    )
    monday_noon = datetime(2026, 11, 30, 12, 0, tzinfo=IST)
    monkeypatch.setattr(timezone, "now", lambda: monday_noon)
    Delivery.objects.update(received_at=monday_noon - timedelta(minutes=5))
    Delivery.objects.filter(key_prefix="env").update(received_at=monday_noon - timedelta(days=2))

    with pytest.raises(CommandError, match="CarDekho has sent no lead"):
        run()
