"""The hard ceiling holds across processes: two gunicorn servers share one Redis counter."""

from __future__ import annotations

import pytest

from leads.models import Lead
from leads.partners import CARDEKHO
from tests.servers import gunicorn, post_json, server_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_two_server_processes_enforce_one_hard_ceiling_together():
    # A day-long window, so the test cannot straddle a window boundary.
    env = server_env(LEAD_API_KEY_CARDEKHO="shared-limit-test-key", LEAD_RATE_LIMIT_HARD="5/d")
    with gunicorn(env) as first, gunicorn(env) as second:
        results = [
            post_json(
                f"{server}{CARDEKHO.path}",
                {"name": f"Buyer {n}", "phone_number": f"90000{n:05d}"},
                key=env["LEAD_API_KEY_CARDEKHO"],
            )
            for n in range(8)
            for server in [(first, second)[n % 2]]
        ]

    statuses = [status for status, _, _ in results]
    assert sorted(statuses) == [201] * 5 + [429] * 3
    assert statuses[:5] == [201] * 5
    refused = [(body, headers) for status, body, headers in results if status == 429]
    assert all(body == {"error": "Rate limit exceeded"} for body, _ in refused)
    assert all(int(headers["Retry-After"]) > 0 for _, headers in refused)
    assert Lead.objects.count() == 5
