"""A lead's timeline lines."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from leads.models.lead import Lead


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
        FOLLOW_UP = "follow_up", "Follow-up"
        ADDED_BY_STAFF = "added", "Added by staff"

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
