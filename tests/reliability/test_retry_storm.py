"""A partner's retry storm: the same lead 50 times at once across two server processes is one lead."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO
from tests.servers import gunicorn, post_json, server_env

KEY = "retry-storm-test-key"


def test_fifty_concurrent_copies_across_two_processes_make_one_lead_and_fifty_deliveries():
    env = server_env(LEAD_API_KEY_CARDEKHO=KEY)
    lead = dict(CARDEKHO.sample)
    with gunicorn(env, workers=2) as first, gunicorn(env, workers=2) as second:
        servers = [first, second]
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(lambda n: post_json(f"{servers[n % 2]}{CARDEKHO.path}", lead, key=KEY), range(50)))

    assert [status for status, _, _ in results] == [201] * 50
    stored = Lead.objects.get()
    assert {body["id"] for _, body, _ in results} == {str(stored.public_id)}
    assert sum(1 for _, body, _ in results if not body["duplicate"]) == 1
    assert Delivery.objects.filter(lead=stored).count() == 50
    assert Delivery.objects.filter(outcome="created").count() == 1
