"""A lead: one buyer's enquiry from a partner, as the sales team works it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone

from leads.common.business_time import business_minutes_ago
from leads.common.days import day_start
from leads.partners import PARTNERS
from leads.partners import WALK_IN as WALK_IN_SOURCE

# The guide's ``platform`` column holds a partner's display name (guide §5); ``ApiKey.partner``
# holds its slug. Both come from the registry; leads.checks makes sure they fit their columns.
# A buyer who walked in or phoned the showroom, added by staff (leads.sales.walk_in): its own source in the reports.
WALK_IN = WALK_IN_SOURCE.name
PLATFORM_CHOICES = [*((partner.name, partner.name) for partner in PARTNERS), (WALK_IN, WALK_IN)]


class LostReason(models.TextChoices):
    PRICE = "price", "Price"
    BOUGHT_ELSEWHERE = "bought_elsewhere", "Bought elsewhere"
    FINANCE = "finance", "Finance not approved"
    NOT_INTERESTED = "not_interested", "No longer interested"
    UNREACHABLE = "unreachable", "Never reachable"
    OTHER = "other", "Other"


def tonight(now: datetime) -> datetime:
    """The end of ``now``'s day in IST: what "today" means for a follow-up."""
    return day_start(timezone.localdate(now) + timedelta(days=1))


def awaiting_first_contact_q() -> models.Q:
    """Still New, and nobody has called or moved it on yet."""
    return models.Q(status=Lead.Status.NEW, first_contacted_at__isnull=True)


def overdue_q(*, now: datetime | None = None) -> models.Q:
    """The one rule for "overdue" as a condition (LeadQuerySet.overdue, the team board): see that method."""
    now = timezone.now() if now is None else now
    threshold = business_minutes_ago(settings.LEAD_FIRST_CONTACT_MINUTES, now=now)
    return awaiting_first_contact_q() & (
        models.Q(reassigned_at__isnull=True, received_at__lt=threshold) | models.Q(reassigned_at__lt=threshold)
    )


def follow_up_due_q(*, now: datetime | None = None) -> models.Q:
    """A follow-up to make today: its time falls before the end of today (IST), late ones included."""
    now = timezone.now() if now is None else now
    return models.Q(next_follow_up_at__lt=tonight(now))


class LeadQuerySet(models.QuerySet["Lead"]):
    def real(self) -> LeadQuerySet:
        """Buyers, not a partner's staging tests: what the sales team works, counts and exports."""
        return self.filter(is_test=False)

    def awaiting_first_contact(self) -> LeadQuerySet:
        """Real leads still New that nobody has called or moved on yet (served by lead_awaiting_contact_idx)."""
        return self.real().filter(awaiting_first_contact_q())

    def overdue(self, *, now: datetime | None = None) -> LeadQuerySet:
        """The one rule for "overdue": not contacted within LEAD_FIRST_CONTACT_MINUTES business minutes.

        The calendar is walked once, in Python, to find the receive time that is that many business minutes
        before ``now``; the database then only compares ``received_at`` with it, on an index.
        A lead handed to someone else counts from then (``reassigned_at``): its new assignee's clock starts
        at the hand-over, so reassigning clears "Overdue" until they too let it wait.
        """
        return self.real().filter(overdue_q(now=now))

    def follow_ups_due_today(self, *, now: datetime | None = None) -> LeadQuerySet:
        """Open leads whose next follow-up falls from now to the end of today (IST)."""
        now = timezone.now() if now is None else now
        return self.real().filter(next_follow_up_at__gte=now, next_follow_up_at__lt=tonight(now))

    def follow_ups_overdue(self, *, now: datetime | None = None) -> LeadQuerySet:
        """Leads whose next follow-up time has passed."""
        now = timezone.now() if now is None else now
        return self.real().filter(next_follow_up_at__lt=now)

    def follow_ups_to_alert(self, *, now: datetime | None = None) -> LeadQuerySet:
        """Follow-ups come due whose salesperson has not been told about this due time yet."""
        return (
            self.follow_ups_overdue(now=now)
            .exclude(assignee=None)
            .filter(
                models.Q(follow_up_alerted_for__isnull=True) | ~models.Q(follow_up_alerted_for=F("next_follow_up_at"))
            )
        )

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
    # The name in plain Latin letters (leads.common.names.latin_name), so a search for "rajesh" finds राजेश.
    name_latin = models.CharField(max_length=255, blank=True, db_default="", editable=False)
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
    # Before issue 23 the notes were one box; kept readable (migration 0017 made it each lead's first LeadNote).
    notes = models.TextField(blank=True)
    # The salesperson's next call (required when a call does not reach the buyer); its alert goes once per time.
    next_follow_up_at = models.DateTimeField("next follow-up", null=True, blank=True)
    follow_up_alerted_for = models.DateTimeField(null=True, blank=True, editable=False)
    # The first call that reached the buyer (CallAttempt "connected"); first_contacted_at is the first attempt.
    first_connected_at = models.DateTimeField("first conversation", null=True, blank=True, editable=False)
    # A call found the number belongs to someone else.
    wrong_number = models.BooleanField(default=False, db_default=False)
    # The dealership's own fields.
    test_drive_at = models.DateTimeField("test drive", null=True, blank=True)
    lost_reason = models.CharField(max_length=32, choices=LostReason.choices, blank=True, db_default="")
    trade_in = models.BooleanField("trade-in (exchange)", default=False, db_default=False)
    finance_interest = models.BooleanField("wants finance", default=False, db_default=False)
    # Speed to lead (leads.sales.sla): set once, when a salesperson first moves the lead out of New or clicks
    # "Called"; never overwritten.
    first_contacted_at = models.DateTimeField("first contacted", null=True, blank=True)
    # Whole business minutes from arrival to that first contact (leads.sales.sla.first_contact), kept beside it so
    # the managers' report counts who was called within the SLA without working through the calendar per lead.
    first_contact_business_minutes = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # When the lead last changed hands after it arrived; the reassignment clock runs from here.
    reassigned_at = models.DateTimeField(null=True, blank=True)
    # When the Sales managers were told it was overdue: they are told once per lead.
    overdue_alerted_at = models.DateTimeField("overdue alert sent", null=True, blank=True)
    # A new real lead whose alert has not gone out yet: its assignee's (or with none, the managers')
    # waiting alert job mails every such lead at once (leads.sales.notifications.new_leads_alert_send).
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
            # The managers' team board (leads.sales.board): every open lead's owner, status, age, first contact,
            # hand-over and follow-up, read from the index alone (an index-only scan) in one grouped query.
            models.Index(
                fields=["assignee", "status", "received_at"],
                include=["first_contacted_at", "reassigned_at", "next_follow_up_at", "id"],
                condition=models.Q(is_test=False) & ~models.Q(status__in=["booked", "lost"]),
                name="lead_board_idx",
            ),
            # The managers' report (leads.reporting.queries): every measure of a range's leads read from this index
            # alone (an index-only scan) instead of the whole rows; over a year that is a third of the table.
            models.Index(
                fields=["received_at"],
                include=[
                    "assignee",
                    "platform",
                    "campaign",
                    "status",
                    "first_contacted_at",
                    "first_connected_at",
                    "first_contact_business_minutes",
                ],
                condition=models.Q(is_test=False),
                name="lead_report_idx",
            ),
            # Each alert job's pending leads: a handful at any time, whatever the table's size.
            models.Index(fields=["assignee"], condition=models.Q(alert_pending=True), name="lead_alert_pending_idx"),
            # The follow-up lists and their alert: only leads with a follow-up set.
            models.Index(
                fields=["next_follow_up_at"],
                condition=models.Q(next_follow_up_at__isnull=False),
                name="lead_follow_up_idx",
            ),
            models.Index(
                fields=["test_drive_at"], condition=models.Q(test_drive_at__isnull=False), name="lead_test_drive_idx"
            ),
            # On PostgreSQL, migration 0003 (and 0017, for name_latin) adds trigram indexes for substring search.
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
