from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from leads.management.partner_arg import partner_from_arg
from leads.models import ENVIRONMENT_PREFIX, ApiKey
from leads.partners import PARTNERS

COLUMNS = ("prefix", "partner", "use", "label", "source", "created", "expires", "revoked", "last used", "state")


def _use(key: ApiKey) -> str:
    """A test key's leads are staging tests (leads.models.Lead.is_test); a live key's are buyers."""
    return "test" if key.is_test else "live"


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"


class Command(BaseCommand):
    help = "List API keys, database and environment, without ever printing a secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("partner", nargs="?", help="only this partner's keys")

    def handle(self, *args: Any, partner: str | None, **options: Any) -> None:
        chosen = partner_from_arg(partner) if partner else None
        partners = [chosen] if chosen else list(PARTNERS)
        now = timezone.now()
        on_environment = [p.slug for p in partners if settings.LEAD_API_KEYS.get(p.slug)]
        if on_environment:
            # First, so that it is seen: an environment key cannot expire, be rotated or be revoked alone.
            self.stdout.write(
                self.style.WARNING(
                    f"Warning: {', '.join(on_environment)} still on an environment key, which cannot expire, "
                    "be rotated or be revoked; move to a database key (docs/runbooks/move-off-environment-keys.md)."
                )
            )
        rows = []
        for p in partners:
            if settings.LEAD_API_KEYS.get(p.slug):
                env_vars = " / ".join(settings.LEAD_API_KEY_VARIABLES[p.slug])
                rows.append((ENVIRONMENT_PREFIX, p.slug, "live", env_vars, "environment", "-", "-", "-", "-", "active"))
        keys = ApiKey.objects.filter(partner__in=[p.slug for p in partners]).order_by("partner", "-created_at")
        for key in keys:
            rows.append(
                (
                    key.prefix,
                    key.partner,
                    _use(key),
                    key.label or "-",
                    "database",
                    _when(key.created_at),
                    _when(key.expires_at),
                    _when(key.revoked_at),
                    _when(key.last_used_at),
                    key.state(at=now),
                )
            )
        widths = [max(len(str(row[i])) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
        for row in [COLUMNS, *rows]:
            self.stdout.write(
                "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
        active = sum(1 for row in rows if row[-1] in ("active", "grace"))
        self.stdout.write(f"{len(rows)} key(s), {active} working.")
