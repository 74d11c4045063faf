from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.intake.keys import PREFIX_LENGTH, api_key_revoke, claimed_prefix
from leads.models import ENVIRONMENT_PREFIX


class Command(BaseCommand):
    help = "Stop an API key at once, by its prefix (see list_api_keys) or the whole key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help=f"the {PREFIX_LENGTH}-character prefix, e.g. 1a2b3c4d, or the whole key")

    def handle(self, *args: Any, prefix: str, **options: Any) -> None:
        # A leaked key is often pasted whole: revoke it by the prefix it carries, and never print it back.
        prefix = claimed_prefix(prefix.strip()) or prefix.strip()
        if prefix == ENVIRONMENT_PREFIX:
            raise CommandError(
                "An environment key cannot be revoked on its own: issue a database key, then remove the "
                "environment variable (docs/runbooks/move-off-environment-keys.md)."
            )
        if len(prefix) != PREFIX_LENGTH:
            raise CommandError(
                f"Give the key's {PREFIX_LENGTH}-character prefix or the whole key; list_api_keys shows the prefixes."
            )
        api_key = api_key_revoke(prefix=prefix)
        if api_key is None:
            raise CommandError(f"No API key has the prefix {prefix!r}; list_api_keys shows them all.")
        self.stdout.write(f"Revoked {api_key.get_partner_display()} key {api_key.prefix}; it no longer works.")
