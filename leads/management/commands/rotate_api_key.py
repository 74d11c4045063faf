from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.intake.keys import MAX_GRACE_HOURS, api_key_rotate
from leads.management.partner_arg import partner_from_arg


class Command(BaseCommand):
    help = (
        "Issue a new key for a partner and retire its other database keys after a grace period, "
        "so the partner can switch without losing leads. Environment keys are not touched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("partner", help="cardekho or carwale (any case)")
        parser.add_argument("--grace-hours", type=int, default=24, help="hours the old keys keep working (0: stop now)")
        parser.add_argument("--label", default="", help="a note for admins about the new key")

    def handle(self, *args: Any, partner: str, grace_hours: int, label: str, **options: Any) -> None:
        chosen = partner_from_arg(partner)
        if grace_hours < 0:
            raise CommandError("--grace-hours cannot be negative.")
        if grace_hours > MAX_GRACE_HOURS:
            raise CommandError(f"--grace-hours can be at most {MAX_GRACE_HOURS} (a year).")
        issued, retired = api_key_rotate(partner=chosen, grace=timedelta(hours=grace_hours), label=label[:100])
        when = "now" if grace_hours == 0 else f"in {grace_hours} hour{'' if grace_hours == 1 else 's'}"
        self.stdout.write(
            f"Created {chosen.name} key {issued.api_key.prefix}; {retired} older key(s) stop working {when}. "
            "The new key is shown once, below:"
        )
        self.stdout.write(issued.secret)
