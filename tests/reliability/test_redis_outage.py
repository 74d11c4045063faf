"""Redis stopped under load: leads keep being accepted (limits fail open) and /healthz says 200 "degraded"."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devservers import wait_for
from devservers.redis import PrivateRedis, private_redis
from leads.models import Lead
from raamcrm.limits import OUTAGE_BACKOFF_SECONDS
from tests.reliability.load import Load
from tests.servers import gunicorn, health, server_env

KEY = "redis-outage-test-key"


@pytest.fixture
def redis_to_stop() -> Iterator[PrivateRedis]:
    """A Redis of this test's own, so stopping it disturbs nothing else."""
    with private_redis() as server:
        yield server


def test_redis_stopped_mid_load_leads_still_accepted_and_health_says_cache_down(redis_to_stop):
    # The limiter runs; its ceiling is not the point here.
    env = server_env(REDIS_URL=redis_to_stop.url, LEAD_API_KEY_CARDEKHO=KEY, LEAD_RATE_LIMIT_HARD="100000/m")
    with gunicorn(env, workers=2) as base:
        assert health(base)[0] == 200
        with Load(base=base, key=KEY) as load:
            wait_for(lambda: load.answered(201) >= 20, timeout=30, what="leads stored before the outage")
            redis_to_stop.stop()
            stopped_at = time.monotonic()
            # Past the limiter's back-off too, so leads that find Redis down a second time are seen as well.
            again = stopped_at + OUTAGE_BACKOFF_SECONDS + 0.5
            wait_for(lambda: load.answered(201, sent_after=again) >= 20, timeout=30, what="leads past the back-off")
        during_outage = health(base)

    after = [o for o in load.outcomes if o.sent_at > stopped_at]
    assert after, "no request was sent while Redis was down"
    assert {o.status for o in load.outcomes} == {201}
    assert Lead.objects.count() == len(load.outcomes)
    assert during_outage[0] == 200  # still taking leads, so Render must keep routing to it
    assert b'"status": "degraded"' in during_outage[1]
    assert b'"cache": "down"' in during_outage[1]
    assert b'"database": "ok"' in during_outage[1]
