"""Read-side queries the admin needs, written to stay fast on a million leads."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Count, Q, QuerySet

from leads.models import Lead

_PHONE_TEXT = re.compile(r"^[\d\s+().-]+$")


def phone_search_digits(term: str) -> str | None:
    """The digits to look for when ``term`` looks like (part of) a phone number, else None.

    Whatever format the person types, ``98765 43210``, ``+91 98765 43210`` and ``09876543210``
    all become the ten-digit national number, which is inside every stored form. Shorter input,
    such as the last six digits, is searched as it is, without the leading zeros of a trunk or
    international prefix (``09876 54``, ``0091 98765``): that only ever finds more, never less.
    """
    term = term.strip()
    digits = re.sub(r"\D", "", term)
    if not _PHONE_TEXT.match(term) or len(digits) < 4:
        return None
    return digits[-10:] if len(digits) > 10 else digits.lstrip("0") or digits


def same_phone_counts(phone_digits: Iterable[str]) -> dict[str, int]:
    """How many leads, on either platform, hold each of these phones (one grouped query)."""
    wanted = {digits for digits in phone_digits if digits}
    if not wanted:
        return {}
    rows = Lead.objects.real().filter(phone_digits__in=wanted).values("phone_digits").annotate(n=Count("id"))
    return {row["phone_digits"]: row["n"] for row in rows}


def distinct_values(field: str, *, limit: int = 200) -> list[str]:
    """The distinct non-blank values of an indexed text column, fast even on a huge table.

    PostgreSQL has no skip scan, so ``SELECT DISTINCT`` reads every index entry. A recursive
    query that asks the index for "the next value after this one" touches one entry per value.
    """
    column = next(f.column for f in Lead._meta.concrete_fields if f.name == field)
    table = Lead._meta.db_table
    sql = f"""
        WITH RECURSIVE walk(value, n) AS (
            (SELECT {column}, 1 FROM {table} WHERE {column} > '' ORDER BY {column} LIMIT 1)
            UNION ALL
            SELECT (SELECT {column} FROM {table} WHERE {column} > walk.value ORDER BY {column} LIMIT 1), walk.n + 1
            FROM walk WHERE walk.value IS NOT NULL AND walk.n < %s
        )
        SELECT value FROM walk WHERE value IS NOT NULL
    """  # noqa: S608 - table and column come from the model, not from input
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return [row[0] for row in cursor.fetchall()]


def assignable_users(*, current_id: int | None = None) -> QuerySet[AbstractBaseUser]:
    """Who a lead may be handed to: active staff given the right to work leads (the Sales roles; a superuser
    only through one), and its current assignee, so that a page saved without moving the lead stays valid."""
    can_work = get_user_model().objects.with_perm("leads.change_lead", include_superusers=False).filter(is_staff=True)
    return get_user_model().objects.filter(Q(pk__in=can_work.values("pk")) | Q(pk=current_id)).order_by("username")


def other_leads_with_phone(lead: Lead, *, limit: int = 20) -> QuerySet[Lead]:
    if not lead.phone_digits:
        return Lead.objects.none()
    same_phone = Lead.objects.filter(phone_digits=lead.phone_digits, is_test=lead.is_test).exclude(pk=lead.pk)
    return same_phone.order_by("-received_at")[:limit]
