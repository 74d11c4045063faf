"""Read-side checks on the lead flow: are we failing partners, refusing their leads, or has a partner gone quiet?"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from leads.common.business_time import business_minutes_ago
from leads.models import ENVIRONMENT_PREFIX, ApiKey, Delivery
from leads.partners import PARTNERS, Partner


@dataclass(frozen=True)
class Refusals:
    """A partner whose leads we refuse for their body (``Delivery.objects.refused_for_their_body()``) more than
    usual: a renamed field, say."""

    partner: Partner
    refused: int
    sent: int
    commonest_error: str


@dataclass(frozen=True)
class Throttled:
    """A partner whose leads we refused at its hard ceiling (429). Their bodies are kept, but the partners'
    guide says to retry only 5xx, so each is a buyer lost until ``replay_deliveries`` stores it."""

    partner: Partner
    refused: int  # not stored yet, and newer than the ledger row ``newest_id`` of the last alert
    newest_id: int
    # Past the key's LEAD_REFUSED_BODIES_KEPT: counted on rows with no body (leads.intake.throttling), not replayable.
    not_kept: int = 0


# How far back the ceiling's refusals are looked for: wider than any gap between two runs of the check.
THROTTLED_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class FlowReport:
    window_minutes: int
    deliveries: int
    server_errors: int
    silent_partners: tuple[Partner, ...]
    refusing: tuple[Refusals, ...] = ()
    throttled: tuple[Throttled, ...] = ()

    @property
    def error_share(self) -> float:
        return self.server_errors / self.deliveries if self.deliveries else 0.0

    @property
    def too_many_errors(self) -> bool:
        return self.server_errors >= settings.LEAD_ALERT_MIN_5XX and self.error_share > settings.LEAD_ALERT_5XX_SHARE

    @property
    def healthy(self) -> bool:
        return not self.too_many_errors and not self.silent_partners and not self.refusing and not self.throttled


def flow_report(
    *, window_minutes: int, now: datetime | None = None, throttled_after: Mapping[str, int] | None = None
) -> FlowReport:
    """What the last ``window_minutes`` say, and the ceiling's refusals not stored yet that came after the
    ledger row ``throttled_after[slug]`` (the newest one already alerted; check_lead_flow keeps it)."""
    now = now or timezone.now()
    recent = Delivery.objects.filter(received_at__gte=now - timedelta(minutes=window_minutes)).aggregate(
        total=Count("id"), errors=Count("id", filter=Q(status_code__gte=500))
    )
    quiet_since = business_minutes_ago(settings.LEAD_ALERT_SILENT_BUSINESS_HOURS * 60, now=now)
    accepted = Delivery.objects.from_partners().filter(status_code=201)
    silent = tuple(
        partner
        for partner in PARTNERS
        if accepted.filter(platform=partner.name, received_at__gte=now - timedelta(days=7)).count()
        >= settings.LEAD_ALERT_NORMAL_LEADS_PER_WEEK
        and not accepted.filter(platform=partner.name, received_at__gte=quiet_since).exists()
    )
    return FlowReport(
        window_minutes=window_minutes,
        deliveries=recent["total"],
        server_errors=recent["errors"],
        silent_partners=silent,
        refusing=_refusals(since=now - timedelta(minutes=window_minutes)),
        throttled=_throttled(since=now - THROTTLED_LOOKBACK, after=throttled_after or {}),
    )


def _refusals(*, since: datetime) -> tuple[Refusals, ...]:
    """Partners over LEAD_ALERT_REFUSED_PERCENT refused leads (and at least LEAD_ALERT_MIN_REFUSED) since ``since``.

    Only deliveries that got past the key count (a stranger's bad keys say nothing about the partner), and
    neither the partner's staging keys nor our own replays.
    """
    # A key that worked: the environment's or a database key's prefix (a stranger's claimed prefix is neither),
    # and not refused for the key itself.
    keys = Q(key_prefix=ENVIRONMENT_PREFIX) | Q(key_prefix__in=ApiKey.objects.values("prefix"))
    answered = (
        Delivery.objects.from_partners()
        .filter(keys, received_at__gte=since)
        .exclude(outcome=Delivery.Outcome.UNAUTHORISED)
    )
    found = []
    for partner in PARTNERS:
        mine = answered.filter(platform=partner.name)
        refused = mine.refused_for_their_body()
        counts = mine.aggregate(sent=Count("id"), refused=Count("id", filter=Q(pk__in=refused.values("pk"))))
        if counts["refused"] >= settings.LEAD_ALERT_MIN_REFUSED and (
            counts["refused"] > settings.LEAD_ALERT_REFUSED_SHARE * counts["sent"]
        ):
            commonest = refused.values("error").annotate(n=Count("id")).order_by("-n").first()
            found.append(Refusals(partner, counts["refused"], counts["sent"], commonest["error"] if commonest else ""))
    return tuple(found)


def _throttled(*, since: datetime, after: Mapping[str, int]) -> tuple[Throttled, ...]:
    """Partners with leads refused at their hard ceiling since ``since``, not stored since (by replay), and
    newer than ``after[slug]``: not their staging keys' (those are no buyers), never our replays (replay does
    not count against the limits)."""
    refused = (
        Delivery.objects.from_partners()
        .filter(received_at__gte=since, lead__isnull=True)
        .refused()
        .filter(status_code=429)
    )
    not_kept = Delivery.objects.from_partners().filter(
        received_at__gte=since, status_code=429, body=b"", body_truncated=True
    )
    found = []
    for partner in PARTNERS:
        newer = {"platform": partner.name, "pk__gt": after.get(partner.slug, 0)}
        new = refused.filter(**newer).aggregate(refused=Count("id"), newest_id=Max("id"))
        lost = not_kept.filter(**newer).aggregate(requests=Sum("repeats"), newest_id=Max("id"))
        if new["refused"] or lost["requests"]:
            newest = max(new["newest_id"] or 0, lost["newest_id"] or 0)
            found.append(Throttled(partner, new["refused"], newest, not_kept=lost["requests"] or 0))
    return tuple(found)
