from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import mail_admins
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from leads.monitoring import flow_report


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
        report = flow_report(window_minutes=window_minutes)
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
        for throttled in report.throttled:
            slug = throttled.partner.slug
            leads_were = "lead was" if throttled.refused == 1 else "leads were"
            problems.append(
                f"{throttled.refused} {throttled.partner.name} {leads_were} refused in the last {window_minutes} min "
                f"at its hard ceiling (LEAD_RATE_LIMIT_HARD, {settings.LEAD_RATE_LIMIT_HARD}) with 429, which the "
                f"partner does not retry: run `manage.py replay_deliveries --partner {slug} --status 429` to store "
                "them (one the partner did send again is linked to its lead, not stored twice), and raise "
                "LEAD_RATE_LIMIT_HARD if this is the partner's normal volume"
            )
        # Each window's errors and refusals are new news; a silence goes on, so it is mailed once a day.
        news = list(problems)
        for partner in report.silent_partners:
            silence = f"{partner.name} has sent no lead for {settings.LEAD_ALERT_SILENT_BUSINESS_HOURS} business hours"
            problems.append(silence)
            if _first_today(f"lead-flow-silent:{partner.slug}"):
                news.append(silence)
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
        told = "ADMINS were emailed" if news else "ADMINS were already told today"
        raise CommandError(f"Lead flow alert: {'; '.join(problems)}. {told}.")


def _first_today(name: str) -> bool:
    """True the first time today (IST) this is asked about ``name``, in any process (the shared cache); with
    the cache down, True: an alert twice beats none."""
    today = timezone.localdate()
    try:
        return bool(cache.add(f"{name}:{today.isoformat()}", 1, timeout=24 * 60 * 60))
    except Exception:  # any cache failure
        return True
