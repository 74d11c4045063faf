import contextlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import mail_admins
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from leads.ops.flow import flow_report
from leads.partners import PARTNERS, Partner
from raamcrm.limits import CACHE_ERRORS


class Command(BaseCommand):
    help = (
        "Alert ADMINS, and exit non-zero, when too many deliveries failed with 5xx in the window, when we refused "
        "too many of a partner's leads (a renamed field, say), when any of a partner's leads were refused at its "
        "hard ceiling (429), or when a partner that normally sends leads has sent "
        "none for LEAD_ALERT_SILENT_BUSINESS_HOURS business hours (mailed once a day while it lasts)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--window-minutes", type=int, default=15, help="how far back to count 5xx answers")

    def handle(self, *args: Any, window_minutes: int, **options: Any) -> None:
        if window_minutes < 1:
            raise CommandError("--window-minutes must be at least 1.")
        # What was already mailed, kept in the shared cache and only once the mail went out: the newest ledger
        # row of each partner's ceiling refusals, and the day a partner's silence was told.
        already = _remembered(
            [_throttled_key(partner) for partner in PARTNERS] + [_silent_key(partner) for partner in PARTNERS]
        )
        report = flow_report(
            window_minutes=window_minutes,
            throttled_after={partner.slug: already.get(_throttled_key(partner), 0) for partner in PARTNERS},
        )
        problems = []
        if report.too_many_errors:
            problems.append(
                f"{report.server_errors} of {report.deliveries} deliveries in the last {window_minutes} min got a 5xx "
                f"({report.error_share:.0%}, threshold {settings.LEAD_ALERT_5XX_SHARE:.0%})"
            )
        for refusals in report.refusing:
            slug = refusals.partner.slug
            problems.append(
                f"{refusals.refused} of {refusals.sent} {refusals.partner.name} deliveries in the last "
                f'{window_minutes} min were refused, most with "{refusals.commonest_error}": if they renamed a field, '
                f"map it with `manage.py field_alias add {slug} <our field> <their field>`, then run "
                f"`manage.py replay_deliveries --partner {slug}` to store the refused leads"
            )
        to_remember: dict[str, int] = {}
        for throttled in report.throttled:
            slug = throttled.partner.slug
            leads_were = "lead was" if throttled.refused == 1 else "leads were"
            problems.append(
                f"{throttled.refused} more {throttled.partner.name} {leads_were} refused at its hard ceiling "
                f"(LEAD_RATE_LIMIT_HARD, {settings.LEAD_RATE_LIMIT_HARD}) with 429, which the partner does not "
                f"retry: run `manage.py replay_deliveries --partner {slug} --status 429` to store them (one the "
                "partner did send again is linked to its lead, not stored twice), and raise LEAD_RATE_LIMIT_HARD if "
                "this is the partner's normal volume"
                + (
                    f"; {throttled.not_kept} more past LEAD_REFUSED_BODIES_KEPT ({settings.LEAD_REFUSED_BODIES_KEPT}) "
                    "kept no body and cannot be replayed: ask the partner to send them again"
                    if throttled.not_kept
                    else ""
                )
            )
            to_remember[_throttled_key(throttled.partner)] = throttled.newest_id
        # Errors, refusals and new ceiling refusals are news each time; a silence goes on, so it is mailed once a day.
        news = list(problems)
        for partner in report.silent_partners:
            silence = f"{partner.name} has sent no lead for {settings.LEAD_ALERT_SILENT_BUSINESS_HOURS} business hours"
            problems.append(silence)
            if _silent_key(partner) not in already:
                news.append(silence)
                to_remember[_silent_key(partner)] = 1
        if not problems:
            self.stdout.write(
                f"Lead flow OK: {report.deliveries} deliveries in the last {window_minutes} min, "
                f"{report.server_errors} with 5xx; every regular partner has sent leads recently."
            )
            return
        if news:
            mail_admins(
                f"Lead flow alert: {'; '.join(news)[:150]}",
                "check_lead_flow found:\n\n"
                + "\n".join(f"- {problem}" for problem in news)
                + "\n\nThe delivery ledger in the admin shows every request; the partner may need a call.",
            )
            _remember(to_remember)  # only now: a mail that failed is tried again by the next run
        told = "ADMINS were emailed" if news else "ADMINS were already told today"
        raise CommandError(f"Lead flow alert: {'; '.join(problems)}. {told}.")


def _throttled_key(partner: Partner) -> str:
    return f"lead-flow-throttled:{partner.slug}"


def _silent_key(partner: Partner) -> str:
    return f"lead-flow-silent:{partner.slug}:{timezone.localdate().isoformat()}"


def _remembered(keys: list[str]) -> dict[str, int]:
    """What the shared cache remembers of ``keys``; with the cache down, nothing: an alert twice beats none."""
    try:
        return cache.get_many(keys)
    except CACHE_ERRORS:
        return {}


def _remember(values: dict[str, int]) -> None:
    with contextlib.suppress(*CACHE_ERRORS):  # the next run alerts again
        cache.set_many(values, timeout=2 * 24 * 60 * 60)
