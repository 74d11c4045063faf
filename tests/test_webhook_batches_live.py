"""Issue 24's Done-when, against the web server as render.yaml starts it: batches are stored, and schemathesis,
with every check, finds nothing wrong with the schema the server serves."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, PARTNERS
from tests.servers import ROOT, gunicorn, post_json, server_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KEYS = {"LEAD_API_KEY_CARDEKHO": "batches-live-cardekho-key", "LEAD_API_KEY_CARWALE": "batches-live-carwale-key"}
# The generated requests must not spend the partners' limits; the limits have tests of their own.
UNLIMITED = {"LEAD_RATE_LIMIT_HARD": "100000/m", "LEAD_RATE_LIMIT_SOFT": "100000/m"}
SCHEMATHESIS_SECONDS = 40  # per partner: the CI run stays within minutes
SCHEMATHESIS_EXAMPLES = 100  # per operation and phase


def key_of(partner):
    return KEYS[f"LEAD_API_KEY_{partner.slug.upper()}"]


def test_an_array_of_one_is_stored_and_a_batch_of_three_stores_three():
    three = [
        {"name": "Ravi Kumar", "phone_number": "9876543211"},
        {"customer_name": "Sunita Rao", "mobile": "9123456780"},
        {"name": "Anil", "phone": "9000000007"},
    ]
    with gunicorn(server_env(**KEYS)) as base:
        one_status, one, _ = post_json(f"{base}{CARDEKHO.path}", [dict(CARDEKHO.sample)], key=key_of(CARDEKHO))
        batch_status, batch, _ = post_json(f"{base}{CARDEKHO.v1_path}", three, key=key_of(CARDEKHO))

    assert one_status == 201
    assert one["message"] == "CarDekho lead inserted successfully"
    assert one["results"] == [{"id": one["id"], "duplicate": False}]
    assert batch_status == 201
    assert [entry["duplicate"] for entry in batch["results"]] == [False, False, False]
    ids = [one["id"], *(entry["id"] for entry in batch["results"])]
    assert [str(lead.public_id) for lead in Lead.objects.order_by("pk")] == ids
    assert sorted(Lead.objects.values_list("name", flat=True)) == ["Anil", "Ravi Kumar", "Ravi Kumar", "Sunita Rao"]
    assert Delivery.objects.filter(lead__isnull=False).count() == 4


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
def test_schemathesis_with_all_checks_passes_against_the_served_schema(partner, tmp_path: Path):
    with gunicorn(server_env(**KEYS, **UNLIMITED, LEAD_RATE_LIMIT_AUTH_FAILURES="100000/m"), workers=2) as base:
        # The schema exactly as served, every media type of it: JSON (single leads and batches), form and multipart.
        asked = urllib.request.Request(f"{base}/api/schema/?format=json", headers={"X-Forwarded-Proto": "https"})  # noqa: S310
        served = json.loads(urllib.request.urlopen(asked, timeout=10).read())  # noqa: S310  (loopback)
        bodies = served["paths"][partner.path]["post"]["requestBody"]["content"]
        assert set(bodies) == {"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}
        schema_file = tmp_path / "schema.json"
        schema_file.write_text(json.dumps(served))
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(ROOT / "tests" / "schemathesis.toml"),
                "run",
                str(schema_file),
                "--url",
                base,
                "--checks",
                "all",
                "--include-tag",
                partner.name,
                "--header",
                f"X-API-Key: {key_of(partner)}",
                "--header",
                "X-Forwarded-Proto: https",  # as Render's edge says, else the answer is a redirect to HTTPS
                "--max-examples",
                str(SCHEMATHESIS_EXAMPLES),
                "--max-time",
                str(SCHEMATHESIS_SECONDS),
                "--seed",
                "24",
                "--generation-database",
                "none",
                "--no-color",
            ],
            cwd=tmp_path,  # where it keeps its cache
            capture_output=True,
            text=True,
            timeout=SCHEMATHESIS_SECONDS * 3,
            check=False,
        )

    failures = run.stdout[run.stdout.find("FAILURES") :]
    assert run.returncode == 0, failures[:8000] + run.stderr[-2000:]
