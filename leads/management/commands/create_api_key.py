from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from leads.intake.keys import api_key_create
from leads.management.partner_arg import partner_from_arg

MAX_EXPIRES_IN_DAYS = 3650


class Command(BaseCommand):
    help = (
        "Issue a new API key for a partner. The key is printed once, alone on the last line; hand it over out of band."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("partner", help="cardekho or carwale (any case)")
        parser.add_argument("--label", default="", help="a note for admins, such as who received the key")
        parser.add_argument("--expires-in-days", type=int, default=None, help="stop working after this many days")
        parser.add_argument(
            "--test",
            action="store_true",
            help="a staging key: its leads are stored and answered as usual, but marked as tests and kept from sales",
        )

    def handle(
        self, *args: Any, partner: str, label: str, expires_in_days: int | None, test: bool, **options: Any
    ) -> None:
        chosen = partner_from_arg(partner)
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        if expires_in_days is not None and expires_in_days > MAX_EXPIRES_IN_DAYS:
            raise CommandError(f"--expires-in-days can be at most {MAX_EXPIRES_IN_DAYS} (ten years); omit it for none.")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        issued = api_key_create(partner=chosen, label=label[:100], expires_at=expires_at, is_test=test)
        until = f", expires {timezone.localtime(expires_at):%Y-%m-%d %H:%M %Z}" if expires_at else ""
        kind = "test key" if test else "key"
        self.stdout.write(f"Created {chosen.name} {kind} {issued.api_key.prefix}{until}. It is shown once, below:")
        self.stdout.write(issued.secret)
