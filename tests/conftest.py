from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from leads.intake.aliases import aliases_changed
from leads.intake.keys import IssuedKey, api_key_create
from leads.partners import CARDEKHO, CARWALE, Partner
from tests.servers import ROOT


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    # Rate-limit counters live in the cache; each test starts with none. So do the added field
    # aliases this process remembers (leads.intake.aliases), which a rolled-back test may have added.
    cache.clear()
    aliases_changed()


@pytest.fixture
def cardekho_key(db: None) -> IssuedKey:
    return api_key_create(partner=CARDEKHO, label="tests")


@pytest.fixture
def carwale_key(db: None) -> IssuedKey:
    return api_key_create(partner=CARWALE, label="tests")


@pytest.fixture
def keys(cardekho_key: IssuedKey, carwale_key: IssuedKey) -> dict[str, str]:
    return {CARDEKHO.slug: cardekho_key.secret, CARWALE.slug: carwale_key.secret}


PostLead = Callable[..., Any]


@pytest.fixture
def post_lead(client: Client, keys: dict[str, str]) -> PostLead:
    """POST a lead the way a partner does; pass ``key=None`` to send no key, ``body=`` for raw bytes."""

    def post(
        partner: Partner,
        payload: Any = None,
        *,
        key: str | type[Ellipsis] | None = ...,
        body: bytes | None = None,
        content_type: str = "application/json",
        path: str | None = None,
        **extra: str,
    ) -> Any:
        headers = dict(extra)
        chosen = keys[partner.slug] if key is ... else key
        if chosen is not None:
            headers["HTTP_X_API_KEY"] = chosen
        data = body if body is not None else json.dumps(payload)
        return client.post(path or partner.path, data=data, content_type=content_type, **headers)

    return post


@pytest.fixture
def empty_job_queue(db: None) -> None:
    """Start with no jobs queued: procrastinate's tables outlive transactional tests' flushes, and a job
    left waiting by another test would run here, or take this test's new leads as they join it."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    ProcrastinateJob.objects.all().delete()


@pytest.fixture
def make_lead(db):
    """Create a lead the way ingestion would, with sensible defaults for anything not given."""
    from django.utils import timezone

    from leads.common.names import latin_name
    from leads.common.phones import normalise_phone
    from leads.models import Lead
    from leads.sales.sla import first_contact

    def make(**fields: Any) -> Lead:
        phone = str(fields.pop("phone_number", "9876543210"))
        normalised = normalise_phone(phone)
        defaults = {
            "platform": "CarDekho",
            "name": "Ravi Kumar",
            "phone_number": phone,
            "phone_e164": normalised.e164,
            "phone_valid": normalised.valid,
            "phone_digits": normalised.digits,
            "received_at": timezone.now(),
        }
        defaults.update(fields)
        defaults.setdefault("payload", {"name": defaults["name"], "phone_number": phone})
        defaults.setdefault("name_latin", latin_name(str(defaults["name"])))
        if defaults.get("first_contacted_at"):  # recorded as the lead page and the "Called" button record it
            defaults.update(first_contact(received_at=defaults["received_at"], at=defaults["first_contacted_at"]))
        return Lead.objects.create(**defaults)

    return make


@pytest.fixture
def roles(db) -> None:
    from django.core.management import call_command

    call_command("setup_roles", stdout=io.StringIO())


def _staff_in(group_name: str | None, username: str):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, password="pw-for-tests", is_staff=True)
    if group_name:
        user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def sales_user(roles):
    return _staff_in("Sales", "sam-sales")


@pytest.fixture
def manager_user(roles):
    return _staff_in("Sales managers", "meera-manager")


@pytest.fixture
def sales_client(sales_user):
    client = Client()
    client.force_login(sales_user)
    return client


@pytest.fixture
def manager_client(manager_user):
    client = Client()
    client.force_login(manager_user)
    return client


@pytest.fixture
def post_leads_at_once(keys: dict[str, str]) -> Callable[[Partner, list[Any]], list[tuple[int, Any]]]:
    """POST each payload from a thread of its own, all released together; needs a transactional test
    (``django_db(transaction=True)``) so the threads' connections see each other's commits."""

    def post_all(partner: Partner, payloads: list[Any]) -> list[tuple[int, Any]]:
        barrier = threading.Barrier(len(payloads))

        def post(payload: Any) -> tuple[int, Any]:
            barrier.wait(timeout=10)
            try:
                response = Client().post(
                    partner.path,
                    json.dumps(payload),
                    content_type="application/json",
                    HTTP_X_API_KEY=keys[partner.slug],
                )
                return response.status_code, response.json()
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
            return list(pool.map(post, payloads))

    return post_all


@pytest.fixture
def make_salesperson(roles: None) -> Callable[..., Any]:
    """Makes a staff user in the Sales group, with an on-duty switch when ``on_duty`` is given (no switch: on duty)."""
    from django.contrib.auth.models import Group, User

    from leads.models import SalesProfile

    def make(username: str, *, on_duty: bool | None = None, **fields: Any) -> User:
        fields = {"email": f"{username}@raamgroup.in", "is_staff": True, **fields}
        user = User.objects.create_user(username, **fields)
        user.groups.add(Group.objects.get(name="Sales"))
        if on_duty is not None:
            SalesProfile.objects.create(user=user, on_duty=on_duty)
        return user

    return make


@pytest.fixture(scope="session")
def static_root(tmp_path_factory):
    """collectstatic once, for the live servers that run with DEBUG off as in production."""
    root = tmp_path_factory.mktemp("static")
    env = {
        **os.environ,
        "STATIC_ROOT": str(root),
        "SECRET_KEY": "collectstatic-only",
        "DJANGO_SETTINGS_MODULE": "raamcrm.settings",
    }
    env.pop("DEBUG", None)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    return root
