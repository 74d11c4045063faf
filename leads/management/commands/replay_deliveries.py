from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from leads.intake.replay import delivery_replay, replayable_deliveries
from leads.management.partner_arg import partner_from_arg
from leads.models import REFUSED_STATUSES


class Command(BaseCommand):
    help = (
        f"Store the leads of refused deliveries ({', '.join(map(str, REFUSED_STATUSES))}) whose body the ledger kept, "
        "through today's "
        "mapping: after `field_alias add`, say. Each delivery stores its lead once, however often this runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--partner", help="cardekho or carwale")
        parser.add_argument("--since", help="received at or after, e.g. 2026-11-28 or 2026-11-28T09:00 (IST)")
        parser.add_argument("--until", help="received before, same format")
        parser.add_argument("--id", type=int, action="append", dest="ids", help="a delivery id; repeat for more")
        parser.add_argument("--status", type=int, action="append", dest="statuses", help="e.g. 400; repeatable")

    def handle(
        self,
        *args: Any,
        partner: str | None,
        since: str | None,
        until: str | None,
        ids: list[int] | None,
        statuses: list[int] | None,
        **options: Any,
    ) -> None:
        for status in statuses or ():
            if status not in REFUSED_STATUSES:
                raise CommandError(
                    f"--status {status}: only refused deliveries are replayed "
                    f"({', '.join(map(str, REFUSED_STATUSES))})."
                )
        first, last = _when(since, "--since"), _when(until, "--until")
        if first and last and first >= last:
            raise CommandError(f"--since {since} is not before --until {until}.")
        deliveries = replayable_deliveries(
            partner=partner_from_arg(partner) if partner else None, since=first, until=last, ids=ids, statuses=statuses
        )
        counts = {"stored": 0, "duplicate": 0, "refused": 0, "skipped": 0}
        for delivery in deliveries.iterator():
            replayed = delivery_replay(delivery)
            self.stdout.write(replayed.describe())
            counts[replayed.kind] += 1
        total = sum(counts.values())
        self.stdout.write(
            f"Replayed {total} deliveries: {counts['stored']} stored as new leads, {counts['duplicate']} "
            f"already stored, {counts['refused']} still refused, {counts['skipped']} skipped."
        )


def _when(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
        if parsed is None and (day := parse_date(value)) is not None:
            parsed = datetime.combine(day, datetime.min.time())
    except ValueError:  # well formed but no such moment: 2026-02-30, 25:00
        parsed = None
    if parsed is None:
        raise CommandError(f"{option} {value!r} is not a date or date-time like 2026-11-28 or 2026-11-28T09:00.")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
