"""A repeat buyer: a lead whose phone an earlier real lead already had, from either partner."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Min

from leads.models import Lead


def repeat_buyer_ids(leads: Iterable[Lead]) -> set[int]:
    """The ids of those of ``leads`` that are a repeat buyer's later enquiry (one grouped query)."""
    leads = [lead for lead in leads if lead.phone_digits]
    if not leads:
        return set()
    first_seen = dict(
        Lead.objects.real()
        .filter(phone_digits__in={lead.phone_digits for lead in leads})
        .values("phone_digits")
        .annotate(first=Min("received_at"))
        .values_list("phone_digits", "first")
    )
    return {lead.pk for lead in leads if first_seen.get(lead.phone_digits, lead.received_at) < lead.received_at}
