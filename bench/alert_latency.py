"""Speed to lead: from a webhook's 201 to the assignee's email at an SMTP server, under ingest load.

    python bench/alert_latency.py

On loopback, against a fresh PostgreSQL database: the web server as render.yaml starts it (bench/ingest.py's
start_server), one procrastinate worker on the alerts queue (as render.yaml runs it), three salespeople on
duty with email addresses, and an aiosmtpd server in this process that the worker mails. wrk drives
bench/ingest.lua at 32 connections (those leads are assigned and alerted too), and meanwhile about 100
probe leads go in one at a time; each probe's delay runs from its 201 to the moment the SMTP server
accepted the email that names it. Writes its section of bench/RESULTS.md.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import (  # noqa: E402
    OURS,
    SALES_TEAM,
    fresh_database,
    manage,
    post_lead,
    server_env,
    start_server,
    verdict,
    wrk,
)
from devservers import free_port, stop_process, wait_for  # noqa: E402  (after the path is set)

DATABASE = "raamcrm_alert_bench"
CONNECTIONS = 32
PROBES = int(os.environ.get("BENCH_PROBES", "100"))
SPACING = 0.2  # seconds between one probe's answer and the next probe
LOAD_SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "45"))
SETTLE_SECONDS = 3  # load before the first probe
DRAIN_SECONDS = 45  # how long probe alerts may still arrive after the last probe
TARGET_P95 = 2.0
IDLE_PROBES = range(801, 811)
PROBE_NAME = re.compile(r"Alert Probe (\d+)")


class Inbox:
    """An aiosmtpd handler that notes when it accepted each message, and which probe it names."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted = 0
        self.leads_named = 0
        self.probes: dict[int, float] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.monotonic()
        # One email may name several leads (a salesperson's digest): every probe it names has arrived.
        message = BytesParser(policy=default_policy).parsebytes(envelope.original_content)
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        named = PROBE_NAME.findall(text)
        with self.lock:
            self.accepted += 1
            self.leads_named += text.count("Open the lead: ")
            for probe in named:
                self.probes.setdefault(int(probe), now)
        return "250 Message accepted for delivery"


def post_probe(base: str, key: str, number: int) -> int:
    probe = {"name": f"Alert Probe {number:03d}", "phone_number": f"8{number:09d}", "car_model": "MG Hector"}
    return post_lead(base, key, {**probe, "campaign": "Alert probe"}, timeout=10)


def queue_counts(database_url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT status::text, COUNT(*) FROM procrastinate_jobs GROUP BY status").fetchall()
    return dict(rows)


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    from aiosmtpd.controller import Controller

    from bench.common import percentile, write_section

    database_url = fresh_database(DATABASE)
    env = server_env(database_url)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "setup_roles")
    manage(env, "shell", "-c", SALES_TEAM)
    key = manage(env, "create_api_key", "cardekho", "--label", "bench").strip().splitlines()[-1]

    inbox = Inbox()
    smtp_port = free_port()
    worker_log = Path(tempfile.mkstemp(prefix="alert-bench-worker-", suffix=".log")[1])
    worker_env = {
        **env,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_USE_TLS": "0",
    }
    sent: dict[int, float] = {}  # probe number -> when its 201 arrived
    idle_sent: dict[int, float] = {}
    answer_ms: list[float] = []
    refused: dict[int, int] = {}
    load: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        stack.callback(controller.stop)
        log = stack.enter_context(worker_log.open("wb"))
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker", "--queues", "alerts"],
            cwd=ROOT,
            env=worker_env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        stack.callback(stop_process, worker)
        server, base = start_server(env)
        stack.callback(stop_process, server, timeout=30)

        # Warm the path end to end (imports, connections, templates) before anything is timed.
        warm = [post_probe(base, key, 900 + n) for n in range(3)]
        if warm != [201] * 3:
            sys.exit(f"warm-up failed: answers {warm}; see {worker_log}")
        try:
            wait_for(lambda: len(inbox.probes) == 3, timeout=60, what="the warm-up's alerts")
        except TimeoutError:
            sys.exit(f"warm-up failed: {len(inbox.probes)} of 3 alerts arrived; see {worker_log}")

        def send_probes(numbers: range, into: dict[int, float], *, deadline: float) -> None:
            for number in numbers:
                if time.monotonic() > deadline:
                    break
                started = time.monotonic()
                status = post_probe(base, key, number)
                answered = time.monotonic()
                if status == 201:
                    into[number] = answered
                    answer_ms.append(1000 * (answered - started))
                else:
                    refused[status] = refused.get(status, 0) + 1
                time.sleep(SPACING)

        # The same path with no load, for comparison.
        send_probes(IDLE_PROBES, idle_sent, deadline=time.monotonic() + 30)
        with contextlib.suppress(TimeoutError):  # the report counts any alert that never came
            wait_for(lambda: all(n in inbox.probes for n in idle_sent), timeout=30, what="the idle probes' alerts")
        answer_ms.clear()
        warm_accepted, warm_named = inbox.accepted, inbox.leads_named

        def background() -> None:
            load.update(wrk(base, OURS, connections=CONNECTIONS, offset=300_000_000, key=key, seconds=LOAD_SECONDS))

        loader = threading.Thread(target=background, daemon=True)
        load_started = time.monotonic()
        loader.start()
        time.sleep(SETTLE_SECONDS)
        # Every probe goes in while the load runs: stop early rather than probe an idle server.
        send_probes(range(1, PROBES + 1), sent, deadline=load_started + LOAD_SECONDS - 1)
        last_probe = time.monotonic()
        loader.join(timeout=LOAD_SECONDS + 30)
        load_ended = time.monotonic()
        accepted_at_load_end, named_at_load_end = inbox.accepted, inbox.leads_named
        backlog = queue_counts(database_url)
        with contextlib.suppress(TimeoutError):
            wait_for(
                lambda: all(n in inbox.probes for n in sent),
                timeout=max(5, last_probe + DRAIN_SECONDS - time.monotonic()),
                what="the probes' alerts",
            )
        drain_span = time.monotonic() - load_ended
        with inbox.lock:
            arrived = {n: inbox.probes[n] for n in sent if n in inbox.probes}
            idle_delays = [inbox.probes[n] - idle_sent[n] for n in idle_sent if n in inbox.probes]
            drained = inbox.leads_named - named_at_load_end
        accepted_during_load = accepted_at_load_end - warm_accepted
        named_during_load = named_at_load_end - warm_named
        waited = time.monotonic() - last_probe
    worker_log.unlink(missing_ok=True)

    # A probe whose alert never arrived counts as infinitely late, so it can only raise the percentiles.
    delays = [arrived[n] - sent[n] if n in arrived else math.inf for n in sorted(sent)]
    if not load or not arrived or not idle_delays:
        sys.exit(f"no result: load {load}, probes sent {len(sent)}, alerts for them {len(arrived)}")
    p50, p95, worst = percentile(delays, 0.5), percentile(delays, 0.95), max(delays)
    met = p95 < TARGET_P95

    def seconds(value: float) -> str:
        return f"{value:.2f} s" if math.isfinite(value) else f"over {waited:.0f} s (not arrived)"

    load_span = load_ended - load_started
    arrival_rate, send_rate = load["created"] / load_span, named_during_load / load_span
    queue_note = ""
    if not met:
        queue_note = f"""
**Why.** Under the load leads arrived at {arrival_rate:.0f} a second and the one worker's emails named \
{send_rate:.0f} a second (the same {os.cpu_count()} cores also run gunicorn, PostgreSQL, Redis and wrk); alone,
after the load, they named {drained / drain_span:.0f} a second. A probe waits for its salesperson's job to come round.
"""
    waiting = backlog.get("todo", 0) + backlog.get("doing", 0)
    body = f"""
Command: `python bench/alert_latency.py`. On loopback: gunicorn with `gunicorn.conf.py` ({env["WEB_CONCURRENCY"]}
uvicorn workers), one `manage.py procrastinate worker --queues alerts` (running `PROCRASTINATE_WORKER_DEFAULTS`'
number of jobs at once, as on Render), PostgreSQL and Redis on the same machine, and an
aiosmtpd server in the benchmark's process that the worker mails over plain SMTP. Three salespeople are on duty,
each with an email address. Background load: `wrk -t2 -c{CONNECTIONS}` with `bench/ingest.lua` for {LOAD_SECONDS} s,
and every one of those leads is assigned and alerted too: a salesperson's leads that arrive while their alert job
waits join it, and its one email names them all. Meanwhile, from {SETTLE_SECONDS} s into the load, probe
leads go in one at a time, {SPACING} s apart; a probe's delay runs from its 201 to the moment the SMTP server
accepted the email that names it.

| Probes answered 201 | Alerts arrived | Delay p50 | Delay p95 | Delay max | p95 < {TARGET_P95:.0f} s |
|---:|---:|---:|---:|---:|:---:|
| {len(sent)} | {len(arrived)} | {seconds(p50)} | {seconds(p95)} | {seconds(worst)} | {"yes" if met else "NO"} |

With no load, {len(idle_delays)} probes the same way took {1000 * percentile(idle_delays, 0.5):.0f} ms at p50 and \
{1000 * max(idle_delays):.0f} ms at worst. Probes refused: {refused or "none"}. A probe's own answer took \
{percentile(answer_ms, 0.5):.0f} ms at p50 and {percentile(answer_ms, 0.95):.0f} ms at p95 under the load.

Background load: {load["rps"]:.0f} req/s, {int(load["created"]):,} leads created, {int(load["errors"])} errors, webhook
p50 {load["p50"]:.1f} ms and p99 {load["p99"]:.1f} ms. The SMTP server accepted {accepted_during_load:,} emails
while it ran, naming {named_during_load:,} leads ({named_during_load / load_span:.0f} a second, over \
{load_span:.0f} s); when the load stopped, {waiting:,} alert jobs were queued.
{queue_note}
Target, as measured in this run: p95 from 201 to accepted email under {TARGET_P95:.0f} s: {verdict(met)}.
"""
    write_section("Alert latency under ingest load", body)
    print(re.sub(r"\n+", "\n", body))


if __name__ == "__main__":
    main()
