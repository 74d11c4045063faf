"""Records of what was done with buyers' personal data: erasures and exports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


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
    kind = models.CharField(max_length=16)  # "filtered", "selected", or "paged" (leads.admin.query_budget)
    query = models.TextField("filter (query string)", blank=True)
    row_count = models.PositiveIntegerField(default=0)
    # Set when the stream ends; ``complete`` only when every row was sent (not cut off by the client).
    finished_at = models.DateTimeField(null=True, blank=True)
    complete = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} export by {self.username}"
