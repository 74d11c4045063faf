"""Redis stopped under load: leads keep being accepted (limits fail open) and /healthz says the cache is down."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from leads.models import Lead
from tests.reliability.load import Load
from tests.servers import free_port, gunicorn, server_env

KEY = "redis-outage-test-key"


@pytest.fixture
def private_redis():
    """A Redis of this test's own, so stopping it disturbs nothing else."""
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        if (
            subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False).stdout.strip()
            == b"PONG"
        ):
            break
        time.sleep(0.05)
    yield process, f"redis://127.0.0.1:{port}/0"
    if process.poll() is None:
        process.kill()
    process.wait()


def health(base: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:  # noqa: S310 (loopback)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_redis_stopped_mid_load_leads_still_accepted_and_health_says_cache_down(private_redis):
    process, url = private_redis
    # The limiter runs; its ceiling is not the point here.
    env = server_env(REDIS_URL=url, LEAD_API_KEY_CARDEKHO=KEY, LEAD_RATE_LIMIT_HARD="100000/m")
    with gunicorn(env, workers=2) as base:
        assert health(base)[0] == 200
        with Load(base=base, key=KEY) as load:
            time.sleep(1)
            process.terminate()
            process.wait(timeout=10)
            stopped_at = time.monotonic()
            time.sleep(4)
        during_outage = health(base)

    after = [o for o in load.outcomes if o.sent_at > stopped_at]
    assert after, "no request was sent while Redis was down"
    assert {o.status for o in load.outcomes} == {201}
    assert Lead.objects.count() == len(load.outcomes)
    assert during_outage[0] == 503
    assert b'"cache": "down"' in during_outage[1]
    assert b'"database": "ok"' in during_outage[1]
