"""The sales screen at a million leads, against a plain ModelAdmin, through the real admin views.

    python bench/admin.py            # seeds raamcrm_bench once (COPY), then times both admins

Needs PostgreSQL on 127.0.0.1:5432 (DATABASE_URL to override). Writes bench/RESULTS.md.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/raamcrm_bench")
# The bench signs in with force_login, which has no second factor to give: time the views, not the enrolment page.
os.environ.setdefault("REQUIRE_2FA_FOR", "none")

LEADS = int(os.environ.get("BENCH_LEADS", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
# Time only the views whose title holds one of these words (comma-separated, any case), e.g.
# BENCH_VIEWS="report,reconciliation"; such a partial run prints its rows and leaves bench/RESULTS.md alone.
VIEWS = [word.strip().lower() for word in os.environ.get("BENCH_VIEWS", "").split(",") if word.strip()]
WANTED_PHONE = "9876543210"

FIRST = [
    "Ravi",
    "Sunita",
    "Imran",
    "Priya",
    "Arjun",
    "Meera",
    "Vikram",
    "Anjali",
    "Rahul",
    "Kavya",
    "Suresh",
    "Divya",
    "Amit",
    "Neha",
    "Karan",
    "Pooja",
    "Rohit",
    "Sneha",
    "Aditya",
    "Lakshmi",
]
LAST = [
    "Kumar",
    "Rao",
    "Shaikh",
    "Nair",
    "Mehta",
    "Iyer",
    "Singh",
    "Patel",
    "Reddy",
    "Gupta",
    "Das",
    "Joshi",
    "Menon",
    "Verma",
    "Pillai",
    "Chopra",
]
MODELS = [
    "MG Hector",
    "MG Hector Plus",
    "MG Astor",
    "MG Gloster",
    "MG Comet EV",
    "MG ZS EV",
    "MG Windsor EV",
    "MG Cyberster",
    "MG M9",
]
CAMPAIGNS = [
    f"{name} {quarter}"
    for name in ("EV Awareness", "Test Drive", "Festive Offers", "Exchange Bonus", "Launch")
    for quarter in ("Q1", "Q2", "Q3", "Q4")
]


def ensure_database() -> None:
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def seed() -> None:
    from django.db import connection

    from leads.models import Lead
    from leads.sales.sla import FIRST_CONTACT_FIELDS, first_contact

    have = Lead.objects.count()
    if have >= LEADS:
        print(f"{have} leads already seeded")
        return
    print(f"seeding {LEADS - have} leads with COPY ...", flush=True)
    rng = random.Random(20261128)
    start = datetime.now(UTC) - timedelta(days=3 * 365)
    span = 3 * 365 * 86400
    columns = (
        "public_id, platform, name, phone_number, phone_e164, phone_valid, phone_digits, car_model, lead_url, "
        "campaign, payload, received_at, status, notes, " + ", ".join(FIRST_CONTACT_FIELDS)
    )
    # Leads arrive in time order, so the table holds them in that order, as production's does: a date range
    # is a run of neighbouring pages, not a page in every few of the whole table.
    arrivals = sorted(start + timedelta(seconds=rng.randrange(span)) for _ in range(have, LEADS))
    started = time.monotonic()
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY leads_lead ({columns}) FROM STDIN") as copy,
    ):
        for n, received_at in zip(range(have, LEADS), arrivals, strict=True):
            national = WANTED_PHONE if n == LEADS // 2 else f"{rng.randint(6, 9)}{rng.randint(0, 999_999_999):09d}"
            platform = "CarDekho" if rng.random() < 0.55 else "CarWale"
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            model, campaign = rng.choice(MODELS), rng.choice(CAMPAIGNS)
            sent = rng.choice([national, f"+91 {national[:5]} {national[5:]}", f"0{national}"])
            payload = {"name": name, "phone_number": sent, "car_model": model, "campaign": campaign}
            status = rng.choice(["new", "new", "new", "contacted", "test_drive_booked", "booked", "lost"])
            # A lead that left New was first contacted minutes to two days after it arrived.
            contact = dict.fromkeys(FIRST_CONTACT_FIELDS)
            if status != "new":
                contact = first_contact(received_at=received_at, at=received_at + rng.random() ** 3 * timedelta(days=2))
            copy.write_row(
                (
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    platform,
                    name,
                    sent,
                    f"+91{national}",
                    True,
                    f"91{national}",
                    model,
                    f"https://{platform.lower()}.com/leads/{n}",
                    campaign,
                    json.dumps(payload),
                    received_at,
                    status,
                    "",
                    *contact.values(),
                )
            )
    print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)


def seed_conversations() -> None:
    """Leads that went on to a test drive, a booking or a loss reached the buyer on their first call (issue 23's
    first conversation), so the report's second median sorts real values too. Idempotent: older seeds lack it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads_lead SET first_connected_at = first_contacted_at WHERE first_connected_at IS NULL "
            "AND first_contacted_at IS NOT NULL AND status IN ('test_drive_booked', 'booked', 'lost')"
        )
        if cursor.rowcount:
            # VACUUM sets the visibility map, as autovacuum soon does on a live table: index-only scans need it.
            cursor.execute("VACUUM ANALYZE leads_lead")


def timed(client, url: str, params: dict) -> list[float]:
    for _ in range(2):  # warm caches and connections
        assert client.get(url, params).status_code == 200, url
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url, params)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, params, response.status_code)
    return samples


def main() -> None:
    ensure_database()
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from bench.common import median, percentile, write_section
    from leads.models import Lead

    call_command("migrate", verbosity=0)
    seed()
    seed_conversations()
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser("bench", "", "bench")
    client = Client()
    client.force_login(user)
    wanted = Lead.objects.filter(phone_digits=f"91{WANTED_PHONE}").first()
    today = datetime.now(UTC).date()
    since = today - timedelta(days=7)
    scenarios = [
        ("Unfiltered list", {}, {}),
        ("Platform filter", {"platform__exact": "CarWale"}, {"platform__exact": "CarWale"}),
        (
            "Date range (7 days)",
            {"received_from": str(since), "received_to": str(today)},
            {"received_at__gte": str(since), "received_at__lt": str(today + timedelta(days=1))},
        ),
        ("Phone-digit search", {"q": "98765 43210"}, {"q": "98765 43210"}),
        ("Name search", {"q": "Meera Iyer"}, {"q": "Meera Iyer"}),
    ]
    rows = []

    def chosen(title: str) -> bool:
        return not VIEWS or any(word in title.lower() for word in VIEWS)

    for title, ours, baseline in scenarios:
        if not chosen(title):
            continue
        our = timed(client, "/admin/leads/lead/", ours)
        base = timed(client, "/baseline/leads/lead/", baseline)
        rows.append((title, our, base))
        print(f"{title}: ours {median(our):.0f} ms, baseline {median(base):.0f} ms", flush=True)
    if chosen("Lead page"):
        page = timed(client, f"/admin/leads/lead/{wanted.pk}/change/", {})
        base_page = timed(client, f"/baseline/leads/lead/{wanted.pk}/change/", {})
        rows.append(("Lead page", page, base_page))
    # Screens the plain admin has no counterpart for: timed alone.
    from leads.admin.filters import OverdueFilter  # issue 14's overdue filter
    from leads.reporting import snapshots

    year = snapshots.preset("Last 365 days", timezone.localdate())

    ours_only = [
        ("Overdue filter", "/admin/leads/lead/", {OverdueFilter.parameter_name: "overdue"}),
        ("Managers' report (default: 30 days)", "/admin/reports/leads/", {}),
        # As a manager opens it from the page's link: from the snapshot its periodic job keeps (issue 23).
        ("Managers' report (the last 365 days)", "/admin/reports/leads/", {"first": year.first, "last": year.last}),
        ("Partner reconciliation (this month)", "/admin/reports/partners/", {}),
        ("Team board", "/admin/board/", {}),
        # The salesperson's lists (issue 23), over every lead as a manager sees them: the bench's superuser.
        ("To work today (follow-ups)", "/admin/leads/lead/", {"mine": "all", "follow_up": "to_call"}),
        ("Due today (follow-ups)", "/admin/leads/lead/", {"mine": "all", "follow_up": "today"}),
        ("Overdue follow-ups", "/admin/leads/lead/", {"mine": "all", "follow_up": "overdue"}),
        ("Test drives today", "/admin/leads/lead/", {"mine": "all", "test_drive": "today"}),
        ("Live leads poll", "/admin/leads/lead/live/", {"since": "0"}),
    ]
    for title, url, params in ours_only:
        if not chosen(title):
            continue
        our = timed(client, url, params)
        rows.append((title, our, None))
        print(f"{title}: ours {median(our):.0f} ms, p95 {percentile(our, 0.95):.0f} ms", flush=True)
    # What the snapshot's job costs the database each time it works the year out: no screen waits for it.
    job_title = "Managers' report (the last 365 days), worked out afresh by its job"
    if chosen(job_title):
        job = []
        for _ in range(RUNS):
            started = time.perf_counter()
            snapshots.lead_report_refresh(first=year.first, last=year.last)
            job.append((time.perf_counter() - started) * 1000)
        rows.append((job_title, job, None))
        print(f"{job_title}: {median(job):.0f} ms, p95 {percentile(job, 0.95):.0f} ms", flush=True)
    if VIEWS:
        print("BENCH_VIEWS set: a partial run, bench/RESULTS.md left as it was")
        return

    table = [
        "| View | Ours median | Ours p95 | Baseline median | Baseline p95 | Speed-up (median) | p95 < 300 ms |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for title, our, base in rows:
        met = "(a job)" if title == job_title else "yes" if percentile(our, 0.95) < 300 else "NO"
        if base is None:
            table.append(f"| {title} | {median(our):.0f} ms | {percentile(our, 0.95):.0f} ms | - | - | - | {met} |")
            continue
        table.append(
            f"| {title} | {median(our):.0f} ms | {percentile(our, 0.95):.0f} ms | {median(base):.0f} ms | "
            f"{percentile(base, 0.95):.0f} ms | {median(base) / median(our):.1f}x | {met} |"
        )
    ratios = {title: median(base) / median(our) for title, our, base in rows if base is not None}
    ten_times = "; ".join(
        f"{title}: {ratios[title]:.1f}x, {'met' if ratios[title] >= 10 else 'not met'}"
        for title in ("Unfiltered list", "Phone-digit search")
        if title in ratios
    )
    pg_version = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    body = f"""
Command: `python bench/admin.py` ({Lead.objects.count():,} leads in PostgreSQL, {RUNS} timed requests per view after 2
warm-ups, logged in as a superuser through the Django test client, so every row is the real admin view, its
queries and its template). The baseline is `bench/urls.py`'s `PlainLeadAdmin`: the same model, columns, filters and
search in an untuned `ModelAdmin`, timed in the same run; the overdue filter and the managers' screens have no
counterpart there and are timed alone. The leads are seeded in arrival order over three years, as a live table
fills; those that left New have a first contact (minutes to two days after arrival, with its business minutes, as
the lead page records them), so the report's median and SLA share are computed over real values. A range over
31 days is read from its snapshot (leads/reporting/snapshots.py); the job's row is the time to work the year out,
which no screen waits for. {pg_version}.

{chr(10).join(table)}

Targets: every view's p95 under 300 ms; at least 10x the baseline on the unfiltered list and on phone search
({ten_times}). The list's rows include the age and Overdue columns.
"""
    write_section("Admin at a million leads", body)
    print("written to bench/RESULTS.md")


if __name__ == "__main__":
    main()
