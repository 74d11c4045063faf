"""The delivery ledger: one row for every webhook request, whatever its answer."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

from leads.models.api_key import ApiKey
from leads.models.lead import PLATFORM_CHOICES, Lead

# A partner's lead refused: final answers by the partners' guide (it says to retry only 5xx) to a request whose
# key worked, so the sender is the partner: for its body, or (429) for the partner's hard ceiling. Replay reads
# these again; monitoring (leads.ops.flow) alerts when many are for their body, and on any at the ceiling.
REFUSED_FOR_THEIR_BODY = (400, 413, 415)
REFUSED_STATUSES = (*REFUSED_FOR_THEIR_BODY, 429)
# The ledger rows replay_deliveries writes carry this request id prefix and the refused row's id, for people to
# read; what marks them as replays is ``Delivery.is_replay``, which only replay sets (a partner can send any
# X-Request-ID it likes, and is kept apart as ``partner_request_id``).
REPLAY_REQUEST_PREFIX = "replay-of-"


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def refused(self) -> DeliveryQuerySet:
        # A 429 with a body is the partner's hard ceiling (the view keeps the lead's body); a 429 for failed
        # keys keeps none, and its key prefix is only what a stranger claimed.
        return self.filter(status_code__in=REFUSED_STATUSES).exclude(key_prefix="").exclude(status_code=429, body=b"")

    def refused_for_their_body(self) -> DeliveryQuerySet:
        """Refused leads whose body we could not read: a renamed field, say (not the ceiling's 429s)."""
        return self.refused().filter(status_code__in=REFUSED_FOR_THEIR_BODY)

    def from_partners(self) -> DeliveryQuerySet:
        """Requests from partners' production systems: not their staging keys, not our replays."""
        staging = ApiKey.objects.filter(is_test=True).values("prefix")
        return self.exclude(key_prefix__in=staging).filter(is_replay=False)

    def prunable(self, *, before: datetime) -> DeliveryQuerySet:
        """Rows received ``before`` that the nightly prune may delete: all but those keeping the partner
        lead id of a duplicate whose lead is still here, which dedupe matches resends against for good."""
        keeps_an_id = models.Q(outcome=Delivery.Outcome.DUPLICATE, lead__isnull=False) & ~models.Q(partner_lead_id="")
        return self.filter(received_at__lt=before).exclude(keeps_an_id)


class Delivery(models.Model):
    """One row per request to a lead endpoint: the ledger ops use to show a partner what it sent."""

    class Outcome(models.TextChoices):
        CREATED = "created", "created"
        DUPLICATE = "duplicate", "duplicate"
        REJECTED = "rejected", "rejected"
        UNAUTHORISED = "unauthorised", "unauthorised"
        THROTTLED = "throttled", "throttled"
        ERROR = "error", "error"

    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Blank when the path named no known partner.
    platform = models.CharField(max_length=16, choices=PLATFORM_CHOICES, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    key_prefix = models.CharField(max_length=32, blank=True)
    status_code = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error = models.CharField(max_length=255, blank=True)
    # From the request's arrival until its row was built: for a stored lead, until just before its transaction
    # stored it (the request's log line has the whole time).
    latency_ms = models.PositiveIntegerField(default=0)
    over_soft_limit = models.BooleanField(default=False)
    # Our own id for the request (raamcrm.middleware), in its log lines and its X-Request-ID answer.
    request_id = models.CharField(max_length=64, blank=True)
    # The X-Request-ID the partner sent, when it was plain enough to keep: theirs, to find their request by.
    partner_request_id = models.CharField("partner's request id", max_length=64, blank=True, db_default="")
    # Written by replay_deliveries (leads.intake.replay), never by a request: replays are no partner's traffic.
    is_replay = models.BooleanField("replay", default=False, db_default=False)
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    # Bytes exactly as sent (capped), so even a body that is not UTF-8 or holds NULs is kept.
    body = models.BinaryField(blank=True, default=b"")
    body_truncated = models.BooleanField(default=False)
    # What the body says it is, so a refused delivery can be read again (replay_deliveries).
    content_type = models.CharField(max_length=255, blank=True, db_default="")
    content_encoding = models.CharField(max_length=64, blank=True, db_default="")
    # Set on a refused delivery when replay_deliveries stored its lead (then ``lead`` is that lead).
    replayed_at = models.DateTimeField(null=True, blank=True)
    # How many requests this row stands for: a client flooding us past the failed-key limit is counted
    # on one row per window rather than writing one each (leads.intake.ledger).
    repeats = models.PositiveIntegerField(default=1, db_default=1)
    # The partner's lead id a stored lead came with: a duplicate's too, so that a later resend of an id
    # taken for an earlier lead within the dedupe window is known as that lead (leads.intake.store). On a
    # refused row, the request's Idempotency-Key, which replay stores its lead under (leads.intake.replay).
    partner_lead_id = models.CharField("partner's lead id", max_length=255, blank=True, db_default="")

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["platform", "received_at"], name="delivery_platform_idx"),
            # Ids kept for leads.intake.store's dedupe: only the rows that carry one.
            models.Index(
                fields=["platform", "partner_lead_id"],
                condition=~models.Q(partner_lead_id=""),
                name="delivery_partner_lead_id_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform or '?'} {self.status_code} {self.outcome}"
