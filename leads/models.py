from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Expression, Q
from django.utils import timezone

from leads.business_time import business_minutes_ago
from leads.partners import LEAD_FIELDS, PARTNERS

# The guide's ``platform`` column holds a partner's display name (guide §5); ``ApiKey.partner``
# holds its slug. Both come from the registry; leads.checks makes sure they fit their columns.
PLATFORM_CHOICES = [(partner.name, partner.name) for partner in PARTNERS]
PARTNER_CHOICES = [(partner.slug, partner.name) for partner in PARTNERS]
LEAD_FIELD_CHOICES = [(name, name) for name in LEAD_FIELDS]


class LeadQuerySet(models.QuerySet["Lead"]):
    def real(self) -> LeadQuerySet:
        """Buyers, not a partner's staging tests: what the sales team works, counts and exports."""
        return self.filter(is_test=False)

    def awaiting_first_contact(self) -> LeadQuerySet:
        """Real leads still New that nobody has called or moved on yet (served by lead_awaiting_contact_idx)."""
        return self.real().filter(status=Lead.Status.NEW, first_contacted_at__isnull=True)

    def overdue(self, *, now: datetime | None = None) -> LeadQuerySet:
        """The one rule for "overdue": not contacted within LEAD_FIRST_CONTACT_MINUTES business minutes.

        The calendar is walked once, in Python, to find the receive time that is that many business minutes
        before ``now``; the database then only compares ``received_at`` with it, on an index.
        """
        now = timezone.now() if now is None else now
        threshold = business_minutes_ago(settings.LEAD_FIRST_CONTACT_MINUTES, now=now)
        return self.awaiting_first_contact().filter(received_at__lt=threshold)

    def due_for_reassignment(self, *, now: datetime | None = None) -> LeadQuerySet:
        """Leads nobody contacted within LEAD_REASSIGN_AFTER_MINUTES business minutes of reaching their
        current assignee (of arriving, until they change hands); none while that setting is 0 (off)."""
        if settings.LEAD_REASSIGN_AFTER_MINUTES <= 0:
            return self.none()
        now = timezone.now() if now is None else now
        threshold = business_minutes_ago(settings.LEAD_REASSIGN_AFTER_MINUTES, now=now)
        return self.awaiting_first_contact().filter(
            models.Q(reassigned_at__isnull=True, received_at__lt=threshold) | models.Q(reassigned_at__lt=threshold)
        )


class Lead(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        CONTACTED = "contacted", "Contacted"
        TEST_DRIVE_BOOKED = "test_drive_booked", "Test drive booked"
        BOOKED = "booked", "Booked"
        LOST = "lost", "Lost"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    platform = models.CharField(max_length=16, choices=PLATFORM_CHOICES)
    name = models.CharField(max_length=255)
    phone_number = models.CharField("phone as sent", max_length=64)
    phone_e164 = models.CharField("phone (E.164)", max_length=20, blank=True)
    phone_valid = models.BooleanField("valid phone", default=False)
    # Digits of the E.164 form when the phone parses, else of what was sent: the dedupe key and
    # what phone search matches against.
    phone_digits = models.CharField(max_length=32, blank=True)
    car_model = models.CharField(max_length=255, blank=True)
    lead_url = models.CharField(max_length=2048, blank=True)
    campaign = models.CharField(max_length=255, blank=True)
    # The partner's own id for the lead (or the request's Idempotency-Key): a lead is stored once per id and phone,
    # for good.
    partner_lead_id = models.CharField("partner's lead id", max_length=255, blank=True, db_default="")
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)
    # Sent with a test key: stored and answered as usual, kept away from the sales team.
    is_test = models.BooleanField("test lead", default=False, db_default=False)
    # The sales team's follow-up; everything above is the partner's and read-only in the admin.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_leads",
        limit_choices_to={"is_staff": True, "is_active": True},
    )
    notes = models.TextField(blank=True)
    # Speed to lead (leads.sla): set once, when a salesperson first moves the lead out of New or clicks
    # "Called"; never overwritten.
    first_contacted_at = models.DateTimeField("first contacted", null=True, blank=True)
    # Whole business minutes from arrival to that first contact (leads.sla.first_contact), kept beside it so
    # the managers' report counts who was called within the SLA without working through the calendar per lead.
    first_contact_business_minutes = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # When the lead last changed hands after it arrived; the reassignment clock runs from here.
    reassigned_at = models.DateTimeField(null=True, blank=True)
    # When the Sales managers were told it was overdue: they are told once per lead.
    overdue_alerted_at = models.DateTimeField("overdue alert sent", null=True, blank=True)
    # A new real lead whose alert has not gone out yet: its assignee's (or with none, the managers')
    # waiting alert job mails every such lead at once (leads.notifications.new_leads_alert_send).
    alert_pending = models.BooleanField(default=False, db_default=False)

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["platform", "phone_digits", "received_at"], name="lead_dedupe_idx"),
            # The admin's default page: newest first, with the id as the tie-break Django adds.
            models.Index(fields=["-received_at", "-id"], name="lead_newest_idx"),
            models.Index(fields=["phone_digits"], name="lead_phone_idx"),
            models.Index(fields=["car_model"], name="lead_car_model_idx"),
            models.Index(fields=["campaign"], name="lead_campaign_idx"),
            models.Index(fields=["status", "-received_at"], name="lead_status_idx"),
            # Leads awaiting first contact, newest first: the overdue filter, its badge and the periodic job.
            models.Index(
                fields=["-received_at", "-id"],
                condition=models.Q(status="new", first_contacted_at__isnull=True, is_test=False),
                name="lead_awaiting_contact_idx",
            ),
            # Each alert job's pending leads: a handful at any time, whatever the table's size.
            models.Index(fields=["assignee"], condition=models.Q(alert_pending=True), name="lead_alert_pending_idx"),
            # On PostgreSQL, migration 0003 adds trigram indexes for substring search.
        ]
        constraints = [
            # Resends of one partner lead id for one phone are one lead, however late and however many at once.
            models.UniqueConstraint(
                fields=["platform", "is_test", "partner_lead_id", "phone_digits"],
                condition=~models.Q(partner_lead_id=""),
                name="lead_partner_lead_id_unique",
            ),
        ]
        permissions = [
            ("reassign_lead", "Can reassign a lead that already has an assignee"),
            ("export_lead", "Can export leads as CSV"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.platform})"


# A partner's lead refused: final answers by the partners' guide (it says to retry only 5xx) to a request whose
# key worked, so the sender is the partner: for its body, or (429) for the partner's hard ceiling. Replay reads
# these again; monitoring (leads.monitoring) alerts when many are for their body, and on any at the ceiling.
REFUSED_FOR_THEIR_BODY = (400, 413, 415)
REFUSED_STATUSES = (*REFUSED_FOR_THEIR_BODY, 429)
# The ledger rows replay_deliveries writes carry this request id prefix and the refused row's id.
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
        return self.exclude(key_prefix__in=staging).exclude(request_id__startswith=REPLAY_REQUEST_PREFIX)

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
    # From the request's arrival until its row was built: for a stored lead, until the statement that stores
    # it was sent (the request's log line has the whole time).
    latency_ms = models.PositiveIntegerField(default=0)
    over_soft_limit = models.BooleanField(default=False)
    request_id = models.CharField(max_length=64, blank=True)
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
    # on one row per window rather than writing one each (leads.ledger).
    repeats = models.PositiveIntegerField(default=1, db_default=1)
    # The partner's lead id a stored lead came with: a duplicate's too, so that a later resend of an id
    # taken for an earlier lead within the dedupe window is known as that lead (leads.ingest). On a
    # refused row, the request's Idempotency-Key, which replay stores its lead under (leads.replay).
    partner_lead_id = models.CharField("partner's lead id", max_length=255, blank=True, db_default="")

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["platform", "received_at"], name="delivery_platform_idx"),
            # Ids kept for leads.ingest's dedupe: only the rows that carry one.
            models.Index(
                fields=["platform", "partner_lead_id"],
                condition=~models.Q(partner_lead_id=""),
                name="delivery_partner_lead_id_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform or '?'} {self.status_code} {self.outcome}"


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self, *, at: datetime | Expression | None = None) -> ApiKeyQuerySet:
        """The keys that work at ``at`` (default: now): the one definition of a working key.

        ``revoked_at`` in the future is a rotation's grace period: the key works until then.
        ``at`` may be an expression, so leads.ingest can compile this rule into its statement.
        """
        at = timezone.now() if at is None else at
        return self.filter(models.Q(revoked_at__isnull=True) | models.Q(revoked_at__gt=at)).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=at)
        )


class ApiKey(models.Model):
    """A partner's API key, kept only as a SHA-256 digest; the secret is shown once at creation.

    ``revoked_at`` in the future is a rotation's grace period: the key works until then.
    """

    partner = models.CharField(max_length=16, choices=PARTNER_CHOICES)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # A staging key (guide §8): its leads are stored and answered as usual, marked as tests.
    is_test = models.BooleanField("test key", default=False, db_default=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["partner", "-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix} ({self.partner})"

    def state(self, *, at: datetime | None = None) -> str:
        """For people: active, grace (rotated out but still working), revoked or expired.

        Whether a key works is ``ApiKey.objects.active()``'s to say; this only names the stage.
        """
        at = at or timezone.now()
        if self.revoked_at and self.revoked_at <= at:
            return "revoked"
        if self.expires_at and self.expires_at <= at:
            return "expired"
        return "grace" if self.revoked_at else "active"


class FieldAlias(models.Model):
    """A field name a partner sends that the guide does not list, added by an admin without a release.

    The guide's aliases always come first; these follow in the order they were added (leads.aliases).
    """

    partner = models.CharField(max_length=16, choices=PARTNER_CHOICES)
    field = models.CharField(max_length=32, choices=LEAD_FIELD_CHOICES)
    alias = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["partner", "field", "created_at", "id"]
        verbose_name_plural = "field aliases"
        constraints = [models.UniqueConstraint(fields=["partner", "alias"], name="field_alias_unique")]

    def __str__(self) -> str:
        return f"{self.partner}: {self.alias} → {self.field}"


class ErasureRecord(models.Model):
    """One buyer's request to erase their data (``erase_buyer``): who asked, when, and what changed.

    The phone itself is kept only masked, like the logs keep it: a record of an erasure must not undo it.
    """

    requested_by = models.CharField(max_length=255, help_text="Who asked: an email address or a ticket.")
    performed_at = models.DateTimeField(default=timezone.now)
    phone_masked = models.CharField("phone (masked)", max_length=64)
    leads_erased = models.PositiveIntegerField(default=0)
    deliveries_erased = models.PositiveIntegerField(default=0)
    log_entries_erased = models.PositiveIntegerField("admin log entries erased", default=0)
    exports_erased = models.PositiveIntegerField("export records erased", default=0)

    class Meta:
        ordering = ["-performed_at", "-id"]

    def __str__(self) -> str:
        return f"erasure of {self.phone_masked} for {self.requested_by}"


class ExportRecord(models.Model):
    """One CSV export of leads: who, when, which filter, and how many rows left the building."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept apart from ``user`` so the record outlives the account.
    username = models.CharField(max_length=150)
    started_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16)  # "filtered" or "selected"
    query = models.TextField("filter (query string)", blank=True)
    row_count = models.PositiveIntegerField(default=0)
    # Set when the stream ends; ``complete`` only when every row was sent (not cut off by the client).
    finished_at = models.DateTimeField(null=True, blank=True)
    complete = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} export by {self.username}"


class SalesProfile(models.Model):
    """A salesperson's on-duty switch. A Sales user with no profile yet counts as on duty."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_profile")
    on_duty = models.BooleanField(default=True, help_text="New leads are assigned only to people on duty.")

    class Meta:
        ordering = ["user__username"]
        # What it is to the people who flip it: the admin lists it as "On-duty switches".
        verbose_name = "on-duty switch"
        verbose_name_plural = "on-duty switches"

    def __str__(self) -> str:
        return f"{self.user} ({'on duty' if self.on_duty else 'off duty'})"


class AssignmentRotation(models.Model):
    """One row: when the Sales managers were last told that nobody is on duty (leads.assignment).

    The round-robin turns themselves come from a sequence, so that no new lead waits for another.
    """

    SINGLETON = 1
    # They hear it again only after a lead has been assigned since (the gap ended, and a new one began).
    unstaffed_alerted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"managers last told nobody is on duty at {self.unstaffed_alerted_at}"


class LeadEvent(models.Model):
    """A line on a lead's timeline: what happened to it, when, and who did it (no actor: the system)."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", "Assigned"
        UNASSIGNED = "unassigned", "Left unassigned"
        ALERT_SENT = "alert_sent", "Alert sent"
        STATUS_CHANGED = "status", "Status changed"
        ASSIGNEE_CHANGED = "assignee", "Assignee changed"
        NOTES_CHANGED = "notes", "Notes edited"
        CALLED = "called", "Called"
        OVERDUE = "overdue", "Overdue"
        REASSIGNED = "reassigned", "Reassigned"

    # Indexed by lead_event_timeline_idx, whose first column it is: a second index on it alone would only
    # cost every new lead one more insert.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events", db_index=False)
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # Indexed only where set (lead_event_actor_idx): the lines the system writes, one for every new lead,
    # have no actor, and a user's deletion only looks for the lines that name them.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["lead", "at"], name="lead_event_timeline_idx"),
            models.Index(fields=["actor"], name="lead_event_actor_idx", condition=Q(actor__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"
