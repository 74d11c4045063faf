"""quickstart, as `make run` calls it: demo leads, a demo admin and a working curl, and only with DEBUG on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from django.contrib.auth.models import User

from leads.models import ApiKey, Lead
from leads.partners import CARDEKHO
from tests.servers import ROOT, current_database_url

# The command runs in a process of its own, writing to this run's database: the test must see its commits.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def manage():
    """Run manage.py as `make run` does: DEBUG on, no Redis, this run's database."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DEBUG="1", DATABASE_URL=current_database_url())

    def run(*args: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**env, **(environ or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def live_quickstart_keys() -> int:
    return ApiKey.objects.filter(label="quickstart", revoked_at__isnull=True).count()


def test_first_run_seeds_demo_leads_a_demo_user_and_prints_curls(manage):
    result = manage("quickstart")

    assert result.returncode == 0, result.stderr
    assert Lead.objects.count() == 6
    assert User.objects.filter(username="demo", is_superuser=True).count() == 1
    assert "as 'demo' with password " in result.stdout
    assert result.stdout.count("curl -i -X POST http://127.0.0.1:8000/admin/mg-digital-leads/source/") == 2
    assert live_quickstart_keys() == 2


def test_demo_leads_never_collide_with_the_guide_samples():
    from leads.common.phones import normalise_phone
    from leads.management.commands.quickstart import DEMO_LEADS
    from leads.partners import PARTNERS

    samples = {normalise_phone(str(p.sample[p.aliases["phone_number"][0]])).digits for p in PARTNERS}
    assert samples.isdisjoint(normalise_phone(phone).digits for _, _, phone, *_ in DEMO_LEADS)


def test_second_run_shows_no_password_and_adds_no_leads(manage):
    manage("quickstart")

    result = manage("quickstart")

    assert "with password" not in result.stdout
    assert "changepassword demo" in result.stdout
    assert Lead.objects.count() == 6
    assert live_quickstart_keys() == 2


def test_refuses_to_run_with_debug_off(manage):
    # As production runs: DEBUG off, with the Redis that production's system check demands.
    result = manage("quickstart", environ={"DEBUG": "0", "REDIS_URL": os.environ["REDIS_URL"]})

    assert result.returncode != 0
    assert "quickstart only runs with DEBUG on" in result.stderr
    assert Lead.objects.count() == 0
    assert not User.objects.exists()
    assert live_quickstart_keys() == 0


def test_a_posted_sample_lead_is_assigned_to_demo_and_its_alert_prints_in_the_console(manage, client):
    setup = manage("quickstart")
    key = re.search(r"X-API-Key: (\S+?)'", setup.stdout.split("# CarDekho", 1)[1])[1]

    response = client.post(
        CARDEKHO.path, json.dumps(dict(CARDEKHO.sample)), content_type="application/json", HTTP_X_API_KEY=key
    )
    worker = manage(
        "procrastinate",
        "worker",
        "--queues",
        "alerts",
        "--one-shot",
        environ={
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        },
    )

    assert response.status_code == 201
    lead = Lead.objects.get(public_id=response.json()["id"])
    assert lead.assignee.username == "demo"
    assert worker.returncode == 0, worker.stderr
    assert "To: demo@localhost" in worker.stdout
    assert f"http://127.0.0.1:8000/admin/leads/lead/{lead.pk}/change/" in worker.stdout
    assert lead.events.filter(kind="alert_sent").exists()
