"""Ingest: the real webhook against a minimal insert, both on the production gunicorn config.

    python bench/ingest.py

Starts gunicorn (gunicorn.conf.py, bench settings) on loopback against a fresh PostgreSQL database
and Redis, drives it with wrk (bench/ingest.lua: every request a unique, realistic lead with a valid
key) at 8, 32 and 128 connections, and writes bench/RESULTS.md. The baseline, in the same run and
the same server, is bench/urls.py's baseline_insert: one INSERT into the same table, with no auth,
ledger, limits or dedupe.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = "postgres://postgres@127.0.0.1:5432"
DATABASE = "raamcrm_ingest_bench"
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
LEVELS = [int(n) for n in os.environ.get("BENCH_CONNECTIONS", "8,32,128").split(",")]
OURS, BASELINE = "/admin/mg-digital-leads/source/cardekho", "/bench/baseline-insert"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database() -> str:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return f"{PG}/{DATABASE}"


def server_env(database_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LEAD_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-not-a-secret",
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "CACHE_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        # The limiter still runs on every request (two Redis INCRs); only its ceilings are out of the way.
        "LEAD_RATE_LIMIT_SOFT": "100000000/m",
        "LEAD_RATE_LIMIT_HARD": "100000000/m",
        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", str(os.cpu_count() or 2)),
        "LOG_LEVEL": "WARNING",
    }


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def wrk(base: str, path: str, *, connections: int, offset: int, key: str) -> dict[str, float]:
    command = [
        "wrk", "-t2", f"-c{connections}", f"-d{SECONDS}s", "--timeout", "10s", "-s", str(ROOT / "bench" / "ingest.lua"),
        f"{base}{path}", "--", str(offset), path, key,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    fields = dict(item.split("=") for item in line.split()[1:])
    requests = int(fields["requests"])
    ok = int(fields.get("status_201", 0))
    return {
        "rps": requests / (int(fields["duration_us"]) / 1e6),
        "p50": int(fields["p50_us"]) / 1000,
        "p99": int(fields["p99_us"]) / 1000,
        "created": ok,
        "errors": requests - ok + int(fields["socket_errors"]),
    }


def count_every_answer(base: str, key: str, *, leads: int = 1000, clients: int = 16) -> dict[int, int]:
    """wrk stops mid-flight, so its 201 count can trail the table by the requests in flight. This
    phase sends a fixed number of leads, waits for every answer, and counts them by status."""
    import json
    import urllib.error
    import urllib.request
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    def send(n: int) -> int:
        body = json.dumps({"name": f"Verify {n}", "phone_number": f"6{n:09d}", "campaign": "Verify"}).encode()
        headers = {"Content-Type": "application/json", "X-API-Key": key, "X-Forwarded-Proto": "https"}
        request = urllib.request.Request(f"{base}{OURS}", data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return dict(Counter(pool.map(send, range(leads))))


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    database_url = fresh_database()
    env = server_env(database_url)
    manage(env, "migrate", "--noinput", "-v0")
    key = manage(env, "create_api_key", "cardekho", "--label", "bench").strip().splitlines()[-1]
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*command, "raamcrm.wsgi"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        # Warm both paths: connections, imports, caches.
        warm = wrk(base, OURS, connections=8, offset=900_000_000, key=key)
        wrk(base, BASELINE, connections=8, offset=910_000_000, key="-")
        results = []
        for run, connections in enumerate(LEVELS):
            base_result = wrk(base, BASELINE, connections=connections, offset=run * 200_000_000 + 100_000_000, key="-")
            our_result = wrk(base, OURS, connections=connections, offset=run * 200_000_000, key=key)
            results.append((connections, our_result, base_result))
            print(f"{connections} conns: ours {our_result}, baseline {base_result}", flush=True)
        verified = count_every_answer(base, key)
    finally:
        server.terminate()
        server.wait(timeout=30)

    import psycopg

    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM leads_lead WHERE campaign = 'Bench'").fetchone()[0]
        ledger = conn.execute(
            "SELECT COUNT(*) FROM leads_delivery d JOIN leads_lead l ON l.id = d.lead_id "
            "WHERE d.status_code = 201 AND l.campaign = 'Bench'"
        ).fetchone()[0]
        verify_stored = conn.execute("SELECT COUNT(*) FROM leads_lead WHERE campaign = 'Verify'").fetchone()[0]
    # The warm-up run's leads are in the table too.
    created = sum(ours["created"] for _, ours, _ in results) + warm["created"]
    rows = [
        "| Connections | Ours req/s | Baseline req/s | Ratio | Ours p50 | Ours p99 | Baseline p50 | Baseline p99 "
        "| Ours non-2xx |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for connections, ours, baseline in results:
        rows.append(
            f"| {connections} | {ours['rps']:.0f} | {baseline['rps']:.0f} | {ours['rps'] / baseline['rps']:.2f} | "
            f"{ours['p50']:.1f} ms | {ours['p99']:.1f} ms | {baseline['p50']:.1f} ms | {baseline['p99']:.1f} ms | "
            f"{ours['errors']} |"
        )
    from bench.common import write_section

    workers = env["WEB_CONCURRENCY"]
    body = f"""
Command: `python bench/ingest.py`. gunicorn with `gunicorn.conf.py` ({workers} gthread workers x 4 threads) on
loopback, PostgreSQL and Redis on the same machine, load from `wrk -t2` for {SECONDS} s per row with
`bench/ingest.lua` (every request a unique lead with a valid database key). The baseline is a minimal Django view
in the same server that inserts one row into the same table (no auth, ledger, limits, normalising or dedupe),
measured in the same run, alternating with ours. Ratio = ours / baseline throughput.

{chr(10).join(rows)}

**Leads against answers.** wrk stops with requests in flight, which the server still completes, so its count
can trail the table: leads stored {stored:,}, 201s seen by wrk {created:,} (warm-up included). Every stored lead
has its 201 ledger row: {ledger:,} ledger rows for {stored:,} leads. A closing phase then sends 1,000 leads from 16
threads and waits for every answer: {verified}; leads stored from it: {verify_stored:,}.
Exactly one lead per 201: {"yes" if verified.get(201) == verify_stored and set(verified) == {201} else "NO"}.

Targets, as measured in this run:
- throughput at least half the baseline at every level: {verdict(all(o["rps"] >= b["rps"] / 2 for _, o, b in results))}
- p99 under 100 ms at 32 connections: {verdict(all(o["p99"] < 100 for c, o, _ in results if c == 32))}
- zero errors: {verdict(all(o["errors"] == 0 for _, o, _ in results))}
- as many leads as 201s: {verdict(verified.get(201) == verify_stored and set(verified) == {201})}

Where the time goes (cProfile in-process, `top` and `pg_stat_activity` under load): the gunicorn workers are
CPU-bound while PostgreSQL sits in `ClientRead` waiting for them. Per lead, our path runs a DRF request, two
Redis round trips for the limits, and five statements (advisory lock, dedupe lookup, lead INSERT, ledger
INSERT, COMMIT) where the baseline runs one INSERT; its Python CPU per request is about three times the
baseline's. Changes made from the profile: one counter for the soft and hard limits and no failed-key
bookkeeping for working keys (six Redis round trips down to two), and the dedupe lookup as plain SQL (building
that ORM query cost about 2 ms of CPU per lead). What remains is the price of the ledger, the dedupe lock and
the limits, which the guide and the issues ask for.
"""
    write_section("Ingest throughput and latency", body)
    print(re.sub(r"\n+", "\n", body))


if __name__ == "__main__":
    main()
