from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.keys import api_key_revoke


class Command(BaseCommand):
    help = "Stop an API key at once, by its prefix (see list_api_keys)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help="the 8-character prefix, e.g. 1a2b3c4d")

    def handle(self, *args: Any, prefix: str, **options: Any) -> None:
        api_key = api_key_revoke(prefix=prefix)
        if api_key is None:
            raise CommandError(f"No API key has the prefix {prefix!r}; list_api_keys shows them all.")
        self.stdout.write(f"Revoked {api_key.get_partner_display()} key {api_key.prefix}; it no longer works.")
