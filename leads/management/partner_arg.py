from django.core.management.base import CommandError

from leads.partners import PARTNERS, Partner, get_partner


def partner_from_arg(value: str) -> Partner:
    partner = get_partner(value)
    if partner is None:
        choices = " or ".join(p.slug for p in PARTNERS)
        raise CommandError(f"Unknown partner {value!r}; choose {choices}.")
    return partner
