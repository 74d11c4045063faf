from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.intake.aliases import AliasError, added_aliases, field_alias_add, field_alias_remove, partner_aliases
from leads.management.partner_arg import partner_from_arg
from leads.partners import LEAD_FIELDS


class Command(BaseCommand):
    help = (
        "Add, list or remove a partner's field aliases without a release, e.g. when CarWale renames a field: "
        "`field_alias add carwale phone_number buyer_mobile`. Every process uses a change within "
        f"{settings.LEAD_ALIAS_REFRESH_SECONDS} seconds (LEAD_ALIAS_REFRESH_SECONDS); "
        "then `replay_deliveries` stores the leads refused meanwhile."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="map a field name the partner sends to one of our fields")
        add.add_argument("partner", help="cardekho or carwale")
        add.add_argument("field", choices=LEAD_FIELDS)
        add.add_argument("alias", help="the field name as the partner sends it")
        listing = actions.add_parser("list", help="every alias of a partner's fields, in priority order")
        listing.add_argument("partner", help="cardekho or carwale")
        remove = actions.add_parser("remove", help="remove an added alias (the guide's own stay)")
        remove.add_argument("partner", help="cardekho or carwale")
        remove.add_argument("alias")

    def handle(self, *args: Any, action: str, partner: str, **options: Any) -> None:
        chosen = partner_from_arg(partner)
        try:
            if action == "add":
                added = field_alias_add(partner=chosen, field=options["field"], alias=options["alias"])
                self.stdout.write(
                    f"{chosen.name}: {added.alias!r} now fills {added.field}, after the guide's aliases. "
                    f"Every process uses it within {settings.LEAD_ALIAS_REFRESH_SECONDS} seconds; replay_deliveries "
                    "recovers leads refused meanwhile."
                )
            elif action == "remove":
                removed = field_alias_remove(partner=chosen, alias=options["alias"])
                self.stdout.write(f"{chosen.name}: {removed.alias!r} no longer fills {removed.field}.")
            else:
                self._list(chosen)
        except AliasError as exc:
            raise CommandError(str(exc)) from None

    def _list(self, partner: Any) -> None:
        added = {alias.alias for alias in added_aliases(partner)}
        for field, aliases in partner_aliases(partner).items():
            names = ", ".join(f"{alias} (added)" if alias in added else alias for alias in aliases)
            self.stdout.write(f"{field}: {names}")
        self.stdout.write(f"{partner.name}: {len(added)} added alias(es) after the guide's.")
