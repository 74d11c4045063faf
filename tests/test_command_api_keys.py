"""create_api_key, rotate_api_key, revoke_api_key and list_api_keys: the key lifecycle admins run."""

from __future__ import annotations

import secrets
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from leads.models import ApiKey, Delivery, Lead
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().splitlines()


@pytest.fixture
def later(monkeypatch):
    """Move the clock forward for the code under test."""

    def travel(**delta: float) -> None:
        moved = timezone.now() + timedelta(**delta)
        monkeypatch.setattr(timezone, "now", lambda: moved)

    return travel


def test_create_prints_the_key_alone_on_the_last_line_and_stores_only_its_digest(post_lead):
    lines = run("create_api_key", "CarDekho", "--label", "Amit")

    secret = lines[-1]
    api_key = ApiKey.objects.get(label="Amit")
    assert secret.startswith(f"raam_{api_key.prefix}_")
    assert api_key.partner == "cardekho"
    assert secret not in "".join(lines[:-1])
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM leads_apikey")
        assert secret not in repr(cursor.fetchall())
    assert post_lead(CARDEKHO, dict(CARDEKHO.sample), key=secret).status_code == 201


def test_create_with_expiry_stops_working_after_it(post_lead, later):
    secret = run("create_api_key", "carwale", "--expires-in-days", "7")[-1]

    later(days=8)
    response = post_lead(CARWALE, dict(CARWALE.sample), key=secret)

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create_api_key", "olx"), "Unknown partner 'olx'; choose cardekho or carwale."),
        (("create_api_key", "cardekho", "--expires-in-days", "0"), "--expires-in-days must be at least 1."),
        (("rotate_api_key", "carwale", "--grace-hours", "-1"), "--grace-hours cannot be negative."),
        (("revoke_api_key", "deadbeef"), "No API key has the prefix 'deadbeef'; list_api_keys shows them all."),
        (("revoke_api_key", "raam_deadbeef_" + "s" * 40), "No API key has the prefix 'deadbeef';"),
        (("revoke_api_key", "abc"), "Give the key's 8-character prefix or the whole key;"),
        (("revoke_api_key", "env"), "An environment key cannot be revoked on its own"),
        (("rotate_api_key", "carwale", "--grace-hours", "1000000000"), "--grace-hours can be at most 8760"),
        (("create_api_key", "carwale", "--expires-in-days", "1000000000"), "--expires-in-days can be at most 3650"),
        (("list_api_keys", "zigwheels"), "Unknown partner 'zigwheels'; choose cardekho or carwale."),
    ],
)
def test_bad_arguments_are_a_clear_command_error(args, message):
    with pytest.raises(CommandError, match=message):
        call_command(*args, stdout=StringIO())


def test_rotate_keeps_the_old_key_working_through_the_grace_then_403(post_lead, later):
    old = run("create_api_key", "cardekho")[-1]

    new = run("rotate_api_key", "CARDEKHO", "--grace-hours", "24")[-1]

    assert post_lead(CARDEKHO, {"name": "A", "phone_number": "9000000001"}, key=old).status_code == 201
    assert post_lead(CARDEKHO, {"name": "B", "phone_number": "9000000002"}, key=new).status_code == 201
    later(hours=25)
    assert post_lead(CARDEKHO, {"name": "C", "phone_number": "9000000003"}, key=old).json() == {
        "error": "Invalid API key"
    }
    assert post_lead(CARDEKHO, {"name": "D", "phone_number": "9000000004"}, key=new).status_code == 201


@pytest.mark.parametrize(("hours", "when"), [("1", "in 1 hour."), ("24", "in 24 hours.")])
def test_rotate_says_when_the_old_keys_stop(hours, when):
    run("create_api_key", "carwale")

    said = run("rotate_api_key", "carwale", "--grace-hours", hours)[0]

    assert f"1 older key(s) stop working {when}" in said


def test_rotate_with_zero_grace_stops_old_keys_at_once(post_lead):
    old = run("create_api_key", "carwale")[-1]

    run("rotate_api_key", "carwale", "--grace-hours", "0")

    assert post_lead(CARWALE, dict(CARWALE.sample), key=old).status_code == 403


def test_rotate_leaves_the_other_partner_alone():
    run("create_api_key", "carwale")

    run("rotate_api_key", "cardekho", "--grace-hours", "0")

    assert ApiKey.objects.get(partner="carwale").revoked_at is None


def test_rotate_leaves_environment_keys_working(settings, post_lead):
    settings.LEAD_API_KEYS = {"cardekho": "env-cardekho-key"}

    run("rotate_api_key", "cardekho", "--grace-hours", "0")

    assert post_lead(CARDEKHO, dict(CARDEKHO.sample), key="env-cardekho-key").status_code == 201


def test_revoke_takes_effect_at_once(post_lead):
    secret = run("create_api_key", "cardekho")[-1]
    prefix = secret.split("_")[1]

    lines = run("revoke_api_key", prefix)

    assert lines == [f"Revoked CarDekho key {prefix}; it no longer works."]
    assert post_lead(CARDEKHO, dict(CARDEKHO.sample), key=secret).status_code == 403


def test_revoke_takes_the_whole_key_as_pasted_and_never_prints_it(post_lead):
    secret = run("create_api_key", "cardekho")[-1]

    lines = run("revoke_api_key", f" {secret} ")

    assert lines == [f"Revoked CarDekho key {secret.split('_')[1]}; it no longer works."]
    assert post_lead(CARDEKHO, dict(CARDEKHO.sample), key=secret).status_code == 403


def test_a_whole_key_that_matches_nothing_is_not_printed_back():
    secret = "raam_deadbeef_" + "s" * 40

    with pytest.raises(CommandError) as refused:
        call_command("revoke_api_key", secret, stdout=StringIO())

    assert "s" * 40 not in str(refused.value)


def test_revoke_ends_a_grace_period_early(post_lead):
    old = run("create_api_key", "cardekho")[-1]
    old_prefix = old.split("_")[1]
    run("rotate_api_key", "cardekho")

    run("revoke_api_key", old_prefix)

    assert post_lead(CARDEKHO, dict(CARDEKHO.sample), key=old).status_code == 403


def test_list_shows_every_key_and_its_state_but_no_secret(settings, post_lead):
    settings.LEAD_API_KEYS = {"carwale": "env-carwale-secret"}
    used = run("create_api_key", "cardekho", "--label", "in use")[-1]
    revoked = run("create_api_key", "cardekho", "--label", "gone")[-1]
    run("revoke_api_key", revoked.split("_")[1])
    post_lead(CARDEKHO, dict(CARDEKHO.sample), key=used)

    lines = run("list_api_keys")

    text = "\n".join(lines)
    assert lines[1].split() == [
        "prefix",
        "partner",
        "use",
        "label",
        "source",
        "created",
        "expires",
        "revoked",
        "last",
        "used",
        "state",
    ]
    for secret in (used, revoked, "env-carwale-secret"):
        assert secret not in text
    assert used.split("_", 2)[2] not in text
    in_use = next(line for line in lines if "in use" in line)
    assert in_use.split()[-1] == "active"
    assert timezone.localtime().strftime("%Y-%m-%d") in in_use.split("database")[1]
    assert next(line for line in lines if "gone" in line).split()[-1] == "revoked"
    assert any(line.startswith("env ") and "carwale" in line and "environment" in line for line in lines)
    # One environment key, the two above, and the two the post_lead fixture made.
    assert lines[-1] == "5 key(s), 4 working."


def test_list_warns_on_its_first_line_while_an_environment_key_is_in_use(settings):
    settings.LEAD_API_KEYS = {"carwale": secrets.token_urlsafe(32)}

    lines = run("list_api_keys")

    assert lines[0].startswith("Warning: carwale still on an environment key")
    assert "database key" in lines[0]
    assert lines[1].split()[0] == "prefix"


def test_list_has_no_warning_with_database_keys_only(settings):
    settings.LEAD_API_KEYS = {}
    run("create_api_key", "cardekho")

    lines = run("list_api_keys")

    assert lines[0].split()[0] == "prefix"
    assert not any("Warning" in line for line in lines)


def test_list_tells_a_test_key_from_a_live_one():
    live = run("create_api_key", "carwale")[-1].split("_")[1]
    staging = run("create_api_key", "carwale", "--test")[-1].split("_")[1]

    lines = run("list_api_keys", "carwale")

    uses = {line.split()[0]: line.split()[2] for line in lines[1:-1]}
    assert uses == {live: "live", staging: "test"}


def test_list_for_one_partner_shows_only_its_keys():
    run("create_api_key", "cardekho")
    run("create_api_key", "carwale")

    lines = run("list_api_keys", "carwale")

    assert [line.split()[1] for line in lines[1:-1]] == ["carwale"]


def test_last_used_is_written_at_most_once_a_minute(post_lead, later):
    secret = run("create_api_key", "cardekho")[-1]
    key = ApiKey.objects.filter(prefix=secret.split("_")[1])
    post_lead(CARDEKHO, {"name": "A", "phone_number": "9000000001"}, key=secret)
    first_use = key.get().last_used_at

    post_lead(CARDEKHO, {"name": "B", "phone_number": "9000000002"}, key=secret)
    assert key.get().last_used_at == first_use

    later(seconds=61)
    post_lead(CARDEKHO, {"name": "C", "phone_number": "9000000003"}, key=secret)
    assert key.get().last_used_at > first_use
    assert Delivery.objects.filter(status_code=201).count() == 3


def test_revoke_stops_a_key_in_use_at_once_and_stores_nothing(post_lead):
    # The first request leaves the key among this process's recently verified keys; the revoke
    # must still stop the very next request, in this process as in any other.
    secret = run("create_api_key", "cardekho")[-1]
    assert post_lead(CARDEKHO, {"name": "A", "phone_number": "9000000001"}, key=secret).status_code == 201

    run("revoke_api_key", secret.split("_")[1])
    response = post_lead(CARDEKHO, {"name": "B", "phone_number": "9000000002"}, key=secret)

    assert response.status_code == 403
    assert response.json() == {"error": "Invalid API key"}
    assert not Lead.objects.filter(name="B").exists()
    refused = Delivery.objects.get(status_code=403)
    assert (refused.outcome, refused.lead) == (Delivery.Outcome.UNAUTHORISED, None)
    assert post_lead(CARDEKHO, {"name": "C", "phone_number": "9000000003"}, key=secret).status_code == 403


def test_a_key_in_use_that_expires_stops_at_once(post_lead):
    secret = run("create_api_key", "carwale")[-1]
    assert post_lead(CARWALE, dict(CARWALE.sample), key=secret).status_code == 201

    ApiKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert post_lead(CARWALE, {"customer_name": "B", "mobile": "9000000002"}, key=secret).status_code == 403
    assert Lead.objects.count() == 1


def test_a_duplicate_sent_with_a_revoked_key_in_use_is_refused_too(post_lead):
    secret = run("create_api_key", "cardekho")[-1]
    assert post_lead(CARDEKHO, {"name": "A", "phone_number": "9000000001"}, key=secret).status_code == 201

    run("revoke_api_key", secret.split("_")[1])

    assert post_lead(CARDEKHO, {"name": "A", "phone_number": "9000000001"}, key=secret).status_code == 403
    assert Delivery.objects.filter(outcome=Delivery.Outcome.DUPLICATE).count() == 0


def test_a_key_in_use_at_one_partner_is_refused_by_the_other(post_lead):
    secret = run("create_api_key", "cardekho")[-1]
    assert post_lead(CARDEKHO, {"name": "A", "phone_number": "9000000001"}, key=secret).status_code == 201

    assert post_lead(CARWALE, dict(CARWALE.sample), key=secret).status_code == 403
